"""Zero-cost proxy scores for the terminal: the best scores and the rank correlations with a
benchmark, from what `nasforge.run.proxy_run.score_proxies` returns."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import numpy as np

    from nasforge.run.proxy_run import ProxyRun


def top_table(texts: list[str], columns: dict[str, np.ndarray], ranked_by: str, k: int) -> Table:
    """The `k` best architectures by column `ranked_by`, with every column's score."""
    import numpy as np

    key = np.array(columns[ranked_by], dtype=float)
    key[np.isnan(key)] = -np.inf
    order = np.argsort(-key, kind="stable")[:k]
    table = Table(title=f"Top {len(order)} of {len(texts)} architectures by {ranked_by}")
    table.add_column("rank", justify="right")
    table.add_column("architecture", overflow="fold")
    for name in columns:
        table.add_column(name, justify="right")
    for rank, row in enumerate(order, start=1):
        values = [_shown(float(values[row])) for values in columns.values()]
        table.add_row(str(rank), texts[row], *values)
    return table


def correlation_table(
    correlations: dict[str, dict[str, float | None]], column: str, count: int
) -> Table:
    """Spearman's and Kendall's rank correlation of each proxy with benchmark `column`."""
    title = f"Rank correlation with {column} ({count} architectures)"
    table = Table(title=title, min_width=len(title) + 4)
    table.add_column("proxy")
    table.add_column("Spearman", justify="right")
    table.add_column("Kendall", justify="right")
    for name, values in correlations.items():
        table.add_row(
            name,
            *("-" if values[k] is None else f"{values[k]:.3f}" for k in ("spearman", "kendall")),
        )
    return table


def _shown(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if value == round(value) and abs(value) >= 1e4:  # a count: params, flops
        return f"{value:,.0f}"
    return f"{value:.4g}"


def proxy_tables(scored: ProxyRun) -> list[RenderableType]:
    """What ``nasforge proxies`` prints: the best scores (unless they went to a CSV file),
    the rank correlations with the benchmark (where there is one) and a summary line."""
    view: list[RenderableType] = []
    if scored.plan.settings.out is None:
        view.append(
            top_table(scored.texts, scored.columns, scored.ranked_by, scored.plan.settings.top)
        )
    if scored.correlations is not None:
        view.append(correlation_table(scored.correlations, scored.metric, len(scored.texts)))
    return [*view, Text(scored.summary_line())]
