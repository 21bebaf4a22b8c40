"""The HTML report's sections that are figures: the best architecture, the Pareto front,
decision importance, learning curves and a one-shot search's architecture weights."""

from __future__ import annotations

import math
from html import escape

from nasforge.arch import Arch
from nasforge.errors import NasforgeError
from nasforge.report.content import ReportContent
from nasforge.report.html_parts import (
    html_table,
    number_text,
    pair_indices,
    plain_text,
    section_html,
)
from nasforge.report.svg import Chart, Series, bars_svg, cell_svg, chain_svg, chart_svg
from nasforge.space.picture import CellPicture
from nasforge.status import Status

CURVES_SHOWN = 12
"""Learning curves drawn: those of the best trials."""


def architecture_section(content: ReportContent) -> str:
    result = content.result
    winner = result.pareto_front()[0] if result.multi_objective else result.best
    if winner is None or content.space is None:
        return ""
    try:
        arch = Arch.parse(winner.arch)
        pictures = content.space.pictures(arch)
    except NasforgeError:
        return ""
    if pictures:
        drawings = "".join(
            cell_svg(p) if isinstance(p, CellPicture) else chain_svg(p) for p in pictures
        )
    else:
        drawings = html_table(
            ["decision", "choice"], [[escape(k), escape(str(v))] for k, v in arch.items()]
        )
    which = "first member of the Pareto front" if result.multi_objective else "best trial"
    body = (
        f'<p>The {which}, trial {winner.number}: <span class="arch">'
        f"{escape(content.arch_text(winner))}</span></p>"
        f'<div class="charts">{drawings}</div>'
    )
    return section_html("architecture", "The winning architecture", body)


def pareto_section(content: ReportContent) -> str:
    result = content.result
    if not result.multi_objective:
        return ""
    objectives = result.objectives
    front = result.pareto_front()
    front_numbers = {t.number for t in front}
    scored = [
        t
        for t in result.trials
        if t.evaluated and t.status is Status.OK and all(o.metric in t.metrics for o in objectives)
    ]
    charts = []
    for first, second in pair_indices(len(objectives)):
        x_metric, y_metric = objectives[first].metric, objectives[second].metric
        dominated = [t for t in scored if t.number not in front_numbers]
        on_front = sorted(
            (t for t in scored if t.number in front_numbers), key=lambda t: t.metrics[x_metric]
        )
        charts.append(
            chart_svg(
                Chart(
                    f"{y_metric} against {x_metric}",
                    f"{x_metric} ({objectives[first].direction})",
                    f"{y_metric} ({objectives[second].direction})",
                    [
                        Series(
                            f"dominated ({len(dominated)})",
                            [t.metrics[x_metric] for t in dominated],
                            [t.metrics[y_metric] for t in dominated],
                            points=True,
                            faded=True,
                            color="#7f7f7f",
                        ),
                        Series(
                            f"Pareto front ({len(on_front)})",
                            [t.metrics[x_metric] for t in on_front],
                            [t.metrics[y_metric] for t in on_front],
                            points=True,
                            color="#d62728",
                        ),
                    ],
                    labels=[
                        (t.metrics[x_metric], t.metrics[y_metric], str(t.number)) for t in on_front
                    ],
                )
            )
        )
    summary = result.pareto_summary()
    body = (
        f'<p><span id="pareto-size">{len(front)}</span> non-dominated trials of '
        f"{len(scored)} scored; hypervolume {summary['hypervolume']:.4g} (reference: the worst "
        f"value of each objective). Points on the front carry their trial numbers.</p>"
        f'<div class="charts">{"".join(charts)}</div>'
    )
    return section_html("pareto", "Pareto front", body)


def importance_section(content: ReportContent) -> str:
    importance = content.importance
    if importance is None:
        if content.analysis_note and content.result.usage.queries:
            return section_html(
                "importance",
                "Which decisions mattered",
                f'<p class="note">{escape(content.analysis_note)}</p>',
            )
        return ""
    rows = []
    for decision in importance.decisions:
        effects = ", ".join(
            f"{e.choice} {e.effect:+.3g}±{e.sd:.2g}"
            for e in sorted(decision.effects, key=lambda e: -e.effect)
        )
        rows.append(
            [
                escape(decision.label),
                f"{100 * decision.importance:.1f}% ± {100 * decision.sd:.1f}",
                escape(str(decision.best)),
                escape(effects),
            ]
        )
    bars = bars_svg(
        "importance: share of the variance each decision explains alone",
        [d.label for d in importance.decisions],
        [round(100 * d.importance, 2) for d in importance.decisions],
        "%",
    )
    pairs = ", ".join(
        f"{p.first} × {p.second} {100 * p.share:.1f}%" for p in importance.interactions
    )
    fit = (
        f"model fit out of bag: Spearman {importance.fit_rank:.2f}"
        if importance.fit_rank is not None
        else "model fit unknown"
    )
    body = (
        f"<p>{escape(importance.metric)} ({escape(importance.direction)}), "
        f"{importance.trials} trials; {fit}. Left to interactions: "
        f"{100 * importance.interaction_share:.0f}% ± {100 * importance.interaction_sd:.0f} "
        f"of the variance. Strongest pairs: {escape(pairs) or 'none measured'}.</p>"
    )
    if importance.warning:
        body += f'<p class="warn">{escape(importance.warning)}</p>'
    for note in importance.notes:
        body += f'<p class="note">{escape(note)}</p>'
    body += bars + html_table(
        ["decision", "importance", "best choice", "marginal effect of each choice"], rows
    )
    body += _explanation(content)
    return section_html("importance", "Which decisions mattered, and why the winner won", body)


def _explanation(content: ReportContent) -> str:
    explanation = content.explanation
    if explanation is None:
        return ""
    measured = "" if explanation.measured is None else f", measured {explanation.measured:.4g}"
    rows = [
        [escape(c.label), escape(str(c.choice)), f"{c.contribution:+.3g} ± {c.sd:.2g}"]
        for c in explanation.contributions
    ]
    rows.append(["interactions", "", f"{explanation.interactions:+.3g}"])
    neighbours = [
        [escape(n.label), escape(str(n.choice)), number_text(n.measured), str(n.trial)]
        for n in explanation.neighbours[:10]
    ]
    body = (
        f"<h3>Why {escape(explanation.arch)}</h3><p>predicted {explanation.predicted:.4g}"
        f"{measured}; the average architecture {explanation.average:.4g}.</p>"
        + html_table(["decision", "choice", "contribution"], rows)
    )
    if neighbours:
        body += "<p>Evaluated neighbours (one decision changed):</p>" + html_table(
            ["decision", "changed to", f"measured {explanation.metric}", "trial"], neighbours
        )
    return body


def curves_section(content: ReportContent) -> str:
    curves = content.curves()
    if not curves:
        return ""
    sign = -1.0 if content.result.objectives[0].direction == "min" else 1.0
    metric = content.result.objectives[0].metric
    curves.sort(key=lambda tc: -sign * tc[0].metrics.get(metric, -math.inf * sign))
    shown = curves[:CURVES_SHOWN]
    chart = Chart(
        f"validation accuracy per epoch (the {len(shown)} best of {len(curves)} trained trials)",
        "epoch",
        "validation accuracy, %",
        [
            Series(f"trial {t.number}", list(range(1, len(c) + 1)), c)
            for t, c in sorted(shown, key=lambda tc: tc[0].number)
        ],
    )
    return section_html("curves", "Learning curves", chart_svg(chart))


def oneshot_section(content: ReportContent) -> str:
    recorded = content.oneshot
    if not recorded:
        return ""
    diagnostics = recorded.get("diagnostics") or {}
    weights: dict[str, list[list[float]]] = diagnostics.get("weights") or {}
    choices: dict[str, list[str]] = diagnostics.get("choices") or {}
    unit = diagnostics.get("unit", "epoch")
    charts = []
    for label, per_point in weights.items():
        names = choices.get(label, [str(i) for i in range(len(per_point[0]) if per_point else 0)])
        points = list(range(1, len(per_point) + 1))
        charts.append(
            chart_svg(
                Chart(
                    f"{label}: weight of each choice",
                    unit,
                    "probability",
                    [
                        Series(name, points, [row[k] for row in per_point])
                        for k, name in enumerate(names)
                    ],
                ),
                width=460,
                height=240,
            )
        )
    skip = [math.nan if v is None else float(v) for v in diagnostics.get("skip_share") or []]
    if skip and any(math.isfinite(v) for v in skip):
        charts.insert(
            0,
            chart_svg(
                Chart(
                    "share of skip connections in the argmax arch",
                    unit,
                    "share",
                    [Series("skip share", list(range(1, len(skip) + 1)), skip)],
                ),
                width=460,
                height=240,
            ),
        )
    facts = ", ".join(
        f"{k} {plain_text(recorded[k])}" for k in ("method", "epochs", "seconds") if k in recorded
    )
    body = f"<p>{escape(facts)}</p>" if facts else ""
    body += f'<div class="charts">{"".join(charts)}</div>'
    return section_html("oneshot", "One-shot search: architecture weights", body)
