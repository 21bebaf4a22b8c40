"""Charts and architecture drawings as inline SVG text, for the HTML report and dashboard.

Hand-written SVG rather than a charting library: the report must open offline and be
mailed as one file, and these few chart kinds (lines, steps, scatter, a cell's DAG, a chain
of blocks) take less code than embedding Plotly's 3.5 MB script or Vega's runtime; nothing
here needs a dependency. Every value is escaped; coordinates are rounded to 0.1 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from nasforge.space.picture import CellPicture, ChainPicture

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
Scale = Callable[[float], float]
WIDTH, HEIGHT = 560, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 130, 28, 44


@dataclass(frozen=True)
class Series:
    """One line (or a cloud of points) of a chart."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    step: bool = False
    """Draw as a staircase (a best-so-far curve) rather than straight segments."""
    points: bool = False
    """Draw points only, no line."""
    color: str | None = None
    faded: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    series: Sequence[Series]
    log_x: bool = False
    labels: Sequence[tuple[float, float, str]] = field(default_factory=tuple)
    """Text placed at data coordinates (a Pareto point's trial number)."""


def chart_svg(chart: Chart, width: int = WIDTH, height: int = HEIGHT) -> str:
    """`chart` as an SVG element: axes with ticks, one colour per series, a legend."""
    xs = [_x(chart, x) for s in chart.series for x in s.xs if _finite(_x(chart, x))]
    ys = [y for s in chart.series for y in s.ys if _finite(y)]
    if not xs or not ys:
        return _empty(chart.title, width)
    x0, x1 = _padded(min(xs), max(xs))
    y0, y1 = _padded(min(ys), max(ys))
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (_x(chart, x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + (1.0 - (y - y0) / (y1 - y0)) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(chart.title)}</title>",
        f'<text x="{MARGIN_LEFT}" y="16" class="chart-title">{escape(chart.title)}</text>',
    ]
    parts += _axes(chart, x0, x1, y0, y1, px, py, plot_w, plot_h, width, height)
    for index, series in enumerate(chart.series):
        color = series.color or PALETTE[index % len(PALETTE)]
        pairs = [
            (x, y)
            for x, y in zip(series.xs, series.ys, strict=True)
            if _finite(_x(chart, x)) and _finite(y)
        ]
        opacity = ' opacity="0.35"' if series.faded else ""
        if series.points:
            parts += [
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"{opacity}>'
                f"<title>{escape(series.name)}: {_num(x)}, {_num(y)}</title></circle>"
                for x, y in pairs
            ]
        elif pairs:
            path = _path(pairs, px, py, series.step)
            parts.append(
                f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"{opacity}/>'
            )
        legend_y = MARGIN_TOP + 14 * index + 6
        parts.append(
            f'<rect x="{width - MARGIN_RIGHT + 12}" y="{legend_y - 8}" width="10" height="10" '
            f'fill="{color}"/><text x="{width - MARGIN_RIGHT + 26}" y="{legend_y + 1}" '
            f'class="legend">{escape(_short(series.name, 20))}</text>'
        )
    for x, y, text in chart.labels:
        if _finite(_x(chart, x)) and _finite(y):
            parts.append(
                f'<text x="{px(x) + 4:.1f}" y="{py(y) - 4:.1f}" class="point-label">'
                f"{escape(text)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """Horizontal bars, one per label, longest scale first as given."""
    label_w, bar_w, row_h = 150, 300, 20
    height = 30 + row_h * len(labels)
    top = max((v for v in values if _finite(v)), default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="{label_w + bar_w + 80}" '
        f'height="{height}" role="img"><title>{escape(title)}</title>'
        f'<text x="8" y="16" class="chart-title">{escape(title)}</text>'
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 26 + row_h * index
        length = max(0.0, value) / top * bar_w if _finite(value) else 0.0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" class="tick">'
            f'{escape(_short(label, 24))}</text><rect x="{label_w}" y="{y + 2}" '
            f'width="{length:.1f}" height="{row_h - 6}" fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 13}" class="tick">'
            f"{_num(value)}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def cell_svg(picture: CellPicture) -> str:
    """A cell as a DAG: nodes left to right, each edge an arc labelled with its op."""
    nodes = picture.nodes
    gap = 150
    width = 60 + gap * max(1, len(nodes) - 1) + 60
    arcs = len(picture.edges)
    height = 110 + 26 * arcs
    base = 60
    position = {node: 60 + gap * i for i, node in enumerate(nodes)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cell" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(picture.title)}</title>",
        f'<text x="8" y="16" class="chart-title">{escape(picture.title)}</text>',
    ]
    spans = sorted(picture.edges, key=lambda e: abs(position[e.target] - position[e.source]))
    for index, edge in enumerate(spans):
        a, b = position[edge.source], position[edge.target]
        lift = 22 + 26 * index
        color = _op_color(edge.op)
        parts.append(
            f'<path d="M {a} {base + 20} C {a} {base + 20 + lift}, {b} {base + 20 + lift}, '
            f'{b} {base + 20}" fill="none" stroke="{color}" stroke-width="2" '
            f'marker-end="url(#arrow)"/>'
            f'<text x="{(a + b) / 2:.1f}" y="{base + 20 + 0.75 * lift + 4:.1f}" '
            f'class="edge-label" text-anchor="middle" fill="{color}">{escape(edge.op)}</text>'
        )
    for node, x in position.items():
        parts.append(
            f'<circle cx="{x}" cy="{base}" r="20" class="node"/>'
            f'<text x="{x}" y="{base + 4}" text-anchor="middle" class="node-label">'
            f"{escape(_short(node, 7))}</text>"
        )
    parts.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs></svg>'
    )
    return "".join(parts)


def chain_svg(picture: ChainPicture) -> str:
    """A chain as a row of boxes, one per block, each listing what was chosen for it."""
    box_w, box_h, gap = 104, 24 + 15 * max((len(b.fields) for b in picture.blocks), default=0), 10
    per_row = 6
    rows = max(1, math.ceil(len(picture.blocks) / per_row))
    width = 16 + per_row * (box_w + gap)
    height = 30 + rows * (box_h + 26)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chain" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(picture.title)}</title>",
        f'<text x="8" y="16" class="chart-title">{escape(picture.title)}</text>',
    ]
    for index, block in enumerate(picture.blocks):
        row, column = divmod(index, per_row)
        x = 8 + column * (box_w + gap)
        y = 28 + row * (box_h + 26)
        color = PALETTE[(block.stage - 1) % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="5" fill="white" '
            f'stroke="{color}" stroke-width="2"/><text x="{x + 6}" y="{y + 15}" '
            f'class="block-title">stage {block.stage} · {index + 1}</text>'
        )
        for line, (name, value) in enumerate(block.fields.items()):
            parts.append(
                f'<text x="{x + 6}" y="{y + 31 + 15 * line}" class="block-field">'
                f"{escape(_short(f'{name} {value}', 16))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


# -- helpers --------------------------------------------------------------------------------
_OP_COLORS = {
    "none": "#bbbbbb",
    "skip_connect": "#d62728",
    "avg_pool_3x3": "#2ca02c",
    "max_pool_3x3": "#8c564b",
}


def _op_color(op: str) -> str:
    if op in _OP_COLORS:
        return _OP_COLORS[op]
    return PALETTE[sum(map(ord, op)) % len(PALETTE)]


def _axes(
    chart: Chart,
    x0: float,
    x1: float,
    y0: float,
    y1: float,
    px: Scale,
    py: Scale,
    plot_w: float,
    plot_h: float,
    width: int,
    height: int,
) -> list[str]:
    bottom = MARGIN_TOP + plot_h
    parts = [
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" '
        'class="plot-area"/>'
    ]
    for value in _ticks(y0, y1):
        y = MARGIN_TOP + (1.0 - (value - y0) / (y1 - y0)) * plot_h
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="grid"/><text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'class="tick">{_num(value)}</text>'
        )
    for value in _ticks(x0, x1):
        x = MARGIN_LEFT + (value - x0) / (x1 - x0) * plot_w
        label = _num(10**value) if chart.log_x else _num(value)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{bottom}" class="grid"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" class="tick">{label}'
            "</text>"
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'class="axis-label">{escape(chart.x_label)}</text>'
        f'<text transform="translate(14 {MARGIN_TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" class="axis-label">{escape(chart.y_label)}</text>'
    )
    return parts


def _path(pairs: list[tuple[float, float]], px: Scale, py: Scale, step: bool) -> str:
    fx, fy = px, py
    commands = [f"M {fx(pairs[0][0]):.1f} {fy(pairs[0][1]):.1f}"]
    previous_y = pairs[0][1]
    for x, y in pairs[1:]:
        if step:
            commands.append(f"L {fx(x):.1f} {fy(previous_y):.1f}")
        commands.append(f"L {fx(x):.1f} {fy(y):.1f}")
        previous_y = y
    return " ".join(commands)


def _x(chart: Chart, x: float) -> float:
    if chart.log_x:
        return math.log10(x) if x > 0 else math.nan
    return x


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _padded(low: float, high: float) -> tuple[float, float]:
    if high == low:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.04
    return low - pad, high + pad


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-12:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _num(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.2g}"
    return f"{value:.4g}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _empty(title: str, width: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="40">'
        f'<text x="8" y="24" class="chart-title">{escape(title)}: no data yet</text></svg>'
    )
