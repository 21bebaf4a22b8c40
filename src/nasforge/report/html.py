"""The HTML report of one experiment: one self-contained file (no network request).

`render_report` makes the page from `ReportContent`; `write_report` reads a store and writes
the file. The dashboard (`nasforge.report.dashboard`) serves the same sections
(`render_sections`) and swaps them in place when the store changes.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError, NasforgeError
from nasforge.report.content import ReportContent, report_content
from nasforge.report.svg import Chart, Series, bars_svg, cell_svg, chain_svg, chart_svg
from nasforge.run.spec import task_of
from nasforge.run.storage import Store, TrialRecord
from nasforge.space.picture import CellPicture
from nasforge.status import Status

LEADERBOARD_SIZE = 10
CURVES_SHOWN = 12
"""Learning curves drawn: those of the best trials."""

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#243447;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#cfd8e3}
main{padding:8px 24px 40px;max-width:1200px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:16px 0;
padding:12px 16px}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:14px 0 6px;word-break:break-all}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e6ebf0}
table.numeric td:nth-child(n+4),table.numeric th:nth-child(n+4){text-align:right;
font-variant-numeric:tabular-nums}
.arch{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
word-break:break-all}td.arch{min-width:360px}.wide{overflow-x:auto}
.note{color:#666;font-size:13px}.warn{color:#a33}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart-title{font-size:13px;font-weight:600}.tick,.legend,.point-label{font-size:11px}
.axis-label{font-size:12px}.grid{stroke:#eee}.plot-area{fill:none;stroke:#ccc}
.node{fill:#f3f5f7;stroke:#243447;stroke-width:1.5}.node-label{font-size:12px}
.edge-label{font-size:11px;font-weight:600}.block-title{font-size:11px;font-weight:600}
.block-field{font-size:11px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px;margin:0}
dt{color:#555}dd{margin:0}
"""

SORT_SCRIPT = """
document.addEventListener('click', function (event) {
  var th = event.target.closest('table.sortable th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0];
  var column = Array.prototype.indexOf.call(th.parentNode.children, th);
  var ascending = th.getAttribute('data-order') !== 'asc';
  Array.prototype.forEach.call(th.parentNode.children, function (h) {
    h.removeAttribute('data-order');
  });
  th.setAttribute('data-order', ascending ? 'asc' : 'desc');
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[column].getAttribute('data-value') || a.cells[column].textContent;
    var y = b.cells[column].getAttribute('data-value') || b.cells[column].textContent;
    var nx = parseFloat(x.replace(/,/g, '')), ny = parseFloat(y.replace(/,/g, ''));
    var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return ascending ? order : -order;
  });
  rows.forEach(function (row) { body.appendChild(row); });
});
"""


def write_report(store_path: Path, name: str, out: Path) -> Path:
    """Write the report of experiment `name` of the store at `store_path` to `out`."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as report.html")
    if not out.parent.exists():
        raise ConfigError(f"cannot write {out}: folder {out.parent} does not exist")
    with Store(store_path, read_only=True) as store:
        content = report_content(store, name)
    out.write_text(render_report(content), encoding="utf-8")
    return out


def render_report(content: ReportContent, *, script: str = "") -> str:
    """The whole page. `script` (the dashboard's live update) is added inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nasforge report: {escape(content.name)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f'{render_header(content)}<main id="report">{render_sections(content)}</main>'
        f"<script>{SORT_SCRIPT}{script}</script></body></html>\n"
    )


def render_header(content: ReportContent) -> str:
    created = datetime.datetime.fromtimestamp(content.experiment.created_at).strftime(
        "%Y-%m-%d %H:%M"
    )
    return (
        f"<header><h1>{escape(content.name)}</h1><p>nasforge experiment in "
        f"{escape(content.store)}, created {created}</p></header>"
    )


def render_sections(content: ReportContent) -> str:
    """Every section that applies to this experiment, in reading order."""
    if content.oneshot:  # one supernet, one found arch: no search curve or importance
        sections = [
            _settings(content),
            _leaderboard(content),
            _architecture(content),
            _oneshot(content),
            _all_trials(content),
        ]
    else:
        sections = [
            _settings(content),
            _final(content),
            _progress(content),
            _leaderboard(content),
            _architecture(content),
            _pareto(content),
            _importance(content),
            _curves(content),
            _all_trials(content),
        ]
    return "".join(s for s in sections if s)


# -- sections -----------------------------------------------------------------------------
def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{body}</section>'


def _settings(content: ReportContent) -> str:
    config = content.config
    result = content.result
    budget = config.get("budget") or {}
    usage = result.usage
    counts = result.counts()
    facts: list[tuple[str, str]] = [
        ("space", _space_text(config)),
        ("strategy", _strategy_text(config.get("strategy", config.get("method", "")))),
        ("evaluator", _named(config.get("evaluator", ""))),
        ("objectives", ", ".join(f"{o.metric} ({o.direction})" for o in result.objectives)),
        ("budget", _budget_text(budget)),
        (
            "used",
            f"{usage.queries} evaluated of {len(result.trials)} proposals; "
            f"{usage.simulated_seconds:,.1f} evaluation seconds; "
            f"{usage.wall_seconds:,.1f} s wall",
        ),
        ("trials by status", ", ".join(f"{k} {v}" for k, v in counts.items() if v)),
        ("device", _device_text(config)),
    ]
    constraints = config.get("constraints")
    if constraints:
        facts.append(("constraints", _text(constraints)))
    task = task_of(config)
    if task and "task" not in config:  # a search's task is in its evaluator's settings
        facts.append(("task", task))
    for key in ("task", "seed", "source"):
        if key in config:
            facts.append((key, _text(config[key])))
    if content.space_error:
        facts.append(("note", content.space_error))
    body = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    body += "</dl>"
    body += (
        '<details><summary class="note">full configuration</summary><pre class="arch">'
        f"{escape(json.dumps(config, indent=2, sort_keys=True))}</pre></details>"
    )
    return _section("settings", "Settings and budget", body)


def _final(content: ReportContent) -> str:
    """The number that matters after a training search: the retrained winner's test
    accuracy (and a baseline's beside it, when one was trained)."""
    final = content.final
    if not final or final.get("test_accuracy") is None:
        return ""
    facts = [
        ("architecture", str(final.get("arch", ""))),
        ("test accuracy", f"{float(final['test_accuracy']):.2f}%"),
        (
            "validation accuracy",
            _percent(final.get("valid_accuracy"))
            + (" (its groups trained too)" if final.get("valid_trained") else ""),
        ),
        ("epochs", _text(final.get("epochs", ""))),
        ("saved to", _text(final.get("model_dir", ""))),
    ]
    if final.get("trial") is not None:
        facts.insert(0, ("trial", _text(final["trial"])))
    members = final.get("members")
    for i, member in enumerate(members if isinstance(members, list) else [], start=1):
        if isinstance(member, dict) and member.get("test_accuracy") is not None:
            facts.append(
                (
                    f"member {i}",
                    f"{member.get('arch', '')}: test accuracy "
                    f"{float(member['test_accuracy']):.2f}%, validation accuracy "
                    f"{_percent(member.get('valid_accuracy'))}",
                )
            )
    baseline = final.get("baseline")
    if isinstance(baseline, dict) and baseline.get("test_accuracy") is not None:
        facts.append(
            (
                "baseline",
                f"{baseline.get('arch', '')}: test accuracy "
                f"{float(baseline['test_accuracy']):.2f}%"
                + (
                    f", validation accuracy {float(baseline['valid_accuracy']):.2f}%"
                    if baseline.get("valid_accuracy") is not None
                    else ""
                ),
            )
        )
    if final.get("loses_to_baseline"):
        facts.append(("note", str(final["loses_to_baseline"])))
    body = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    title = "The retrained ensemble" if final.get("members") else "The retrained winner"
    return _section("final", title, body + "</dl>")


def _percent(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}%"


def _progress(content: ReportContent) -> str:
    progress = content.progress
    if progress is None:
        return _section("progress", "Best so far", '<p class="note">no finished trial yet</p>')
    label = f"{progress.metric} ({progress.direction})"
    by_trials = Chart(
        "best so far, by evaluated trials",
        "evaluated trials",
        label,
        [
            Series("each trial", progress.queries, progress.values, points=True, faded=True),
            Series("best so far", progress.queries, progress.best, step=True),
        ],
    )
    by_time = Chart(
        "best so far, by evaluation time",
        "evaluation seconds (sum of trial costs)",
        label,
        [Series("best so far", progress.seconds, progress.best, step=True)],
    )
    body = f'<div class="charts">{chart_svg(by_trials)}{chart_svg(by_time)}</div>'
    return _section("progress", "Best so far", body)


def _leaderboard(content: ReportContent) -> str:
    result = content.result
    if result.multi_objective:
        ranked = result.pareto_front()[:LEADERBOARD_SIZE]
        title = f"Leaderboard: the Pareto front ({len(result.pareto_front())} trials)"
    else:
        ranked = result.leaderboard(LEADERBOARD_SIZE)
        title = f"Leaderboard (top {len(ranked)} of {result.usage.queries} evaluated)"
    if not ranked:
        return _section("leaderboard", "Leaderboard", '<p class="note">no scored trial yet</p>')
    metrics = _headline_metrics(content, ranked)
    head = '<tr><th class="num">rank</th><th class="num">trial</th><th>architecture</th>'
    head += "".join(f'<th class="num">{escape(m)}</th>' for m in metrics) + "</tr>"
    rows = []
    for rank, trial in enumerate(ranked, start=1):
        cells = "".join(_metric_cell(trial.metrics.get(m)) for m in metrics)
        rows.append(
            f'<tr><td class="num">{rank}</td><td class="num">{trial.number}</td>'
            f'<td class="arch">{escape(content.arch_text(trial))}</td>{cells}</tr>'
        )
    body = f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    return _section("leaderboard", title, body)


def _architecture(content: ReportContent) -> str:
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
        drawings = _table(
            ["decision", "choice"], [[escape(k), escape(str(v))] for k, v in arch.items()]
        )
    which = "first member of the Pareto front" if result.multi_objective else "best trial"
    body = (
        f'<p>The {which}, trial {winner.number}: <span class="arch">'
        f"{escape(content.arch_text(winner))}</span></p>"
        f'<div class="charts">{drawings}</div>'
    )
    return _section("architecture", "The winning architecture", body)


def _pareto(content: ReportContent) -> str:
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
    for first, second in _pairs(len(objectives)):
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
    return _section("pareto", "Pareto front", body)


def _importance(content: ReportContent) -> str:
    importance = content.importance
    if importance is None:
        if content.analysis_note and content.result.usage.queries:
            return _section(
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
    body += bars + _table(
        ["decision", "importance", "best choice", "marginal effect of each choice"], rows
    )
    body += _explanation(content)
    return _section("importance", "Which decisions mattered, and why the winner won", body)


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
        [escape(n.label), escape(str(n.choice)), _number(n.measured), str(n.trial)]
        for n in explanation.neighbours[:10]
    ]
    body = (
        f"<h3>Why {escape(explanation.arch)}</h3><p>predicted {explanation.predicted:.4g}"
        f"{measured}; the average architecture {explanation.average:.4g}.</p>"
        + _table(["decision", "choice", "contribution"], rows)
    )
    if neighbours:
        body += "<p>Evaluated neighbours (one decision changed):</p>" + _table(
            ["decision", "changed to", f"measured {explanation.metric}", "trial"], neighbours
        )
    return body


def _curves(content: ReportContent) -> str:
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
    return _section("curves", "Learning curves", chart_svg(chart))


def _oneshot(content: ReportContent) -> str:
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
        f"{k} {_text(recorded[k])}" for k in ("method", "epochs", "seconds") if k in recorded
    )
    body = f"<p>{escape(facts)}</p>" if facts else ""
    body += f'<div class="charts">{"".join(charts)}</div>'
    return _section("oneshot", "One-shot search: architecture weights", body)


def _all_trials(content: ReportContent) -> str:
    """Every trial but the duplicates (a repeat of an earlier arch reuses its result; the
    settings count them), with every metric; compact cells, as a 3,000-trial search on
    NAS-Bench-201 has 50-odd metrics a trial."""
    trials = [t for t in content.result.trials if t.duplicate_of is None]
    if not trials:
        return _section("trials", "All trials", '<p class="note">no trial yet</p>')
    metrics = _metric_names(trials)
    head = (
        "<tr><th>trial</th><th>status</th><th>architecture</th>"
        + "".join(f"<th>{escape(m)}</th>" for m in metrics)
        + "<th>cost s</th></tr>"
    )
    rows = []
    for trial in trials:
        cells = "".join(f"<td>{_compact(trial.metrics.get(m))}</td>" for m in metrics)
        rows.append(
            f'<tr data-trial="{trial.number}"><td>{trial.number}</td>'
            f"<td>{escape(trial.status.value)}</td>"
            f'<td class="arch">{escape(content.arch_text(trial))}</td>{cells}'
            f"<td>{_compact(trial.cost)}</td></tr>"
        )
    duplicates = len(content.result.trials) - len(trials)
    body = (
        f'<p class="note"><span id="trial-count">{len(trials)}</span> trials'
        + (f" (and {duplicates} duplicates, which reused their results)" if duplicates else "")
        + "; click a column to sort.</p>"
        f'<div class="wide"><table class="sortable numeric" id="all-trials"><thead>{head}'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    return _section("trials", "All trials", body)


def _compact(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.6g}"


# -- small helpers ------------------------------------------------------------------------
def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_names(trials: Sequence[TrialRecord]) -> list[str]:
    names: dict[str, None] = {}
    for trial in trials:
        for name in trial.metrics:
            names.setdefault(name, None)
    return list(names)


HEADLINE_METRICS = ("test_acc", "accuracy", "params", "flops", "latency_ms", "epochs")
"""Shown in the leaderboard after the objectives, when measured (all metrics: all trials)."""


def _headline_metrics(content: ReportContent, trials: Sequence[TrialRecord]) -> list[str]:
    measured = set(_metric_names(trials))
    wanted = [o.metric for o in content.result.objectives]
    wanted += [c.get("metric", "") for c in content.config.get("constraints") or []]
    wanted += list(HEADLINE_METRICS)
    return [m for m in dict.fromkeys(wanted) if m in measured]


def _metric_cell(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return '<td class="num" data-value="">–</td>'
    return f'<td class="num" data-value="{value!r}">{_number(value)}</td>'


def _number(value: float) -> str:
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _pairs(count: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(count) for j in range(i + 1, count)][:3]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _named(value: Any) -> str:
    """``{"name": n, "params": {...}}`` as ``n (k=v, ...)``; anything else as JSON."""
    if isinstance(value, dict) and "name" in value:
        params = value.get("params") or {}
        options = ", ".join(f"{k}={_text(v)}" for k, v in params.items())
        return str(value["name"]) + (f" ({options})" if options else "")
    return _text(value)


def _strategy_text(value: Any) -> str:
    """The strategy; a warm start as its inner strategy, seed count and transfer source (its
    seeds and prior are in the full configuration)."""
    params = value.get("params") if isinstance(value, dict) else None
    if not isinstance(params, dict) or "inner" not in params:
        return _named(value)
    inner = _named({"name": params["inner"], "params": params.get("inner_params")})
    text = f"{value.get('name')} ({len(params.get('seeds') or [])} seeds first), then {inner}"
    if params.get("source"):
        prior = len(params.get("prior") or [])
        text += f"; transfer from {params['source']} ({prior} prior archs)"
    return text


def _space_text(config: dict[str, Any]) -> str:
    space = config.get("space") or {}
    params = space.get("params") or {}
    options = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{space.get('name', '?')}" + (f" ({options})" if options else "")


def _device_text(config: dict[str, Any]) -> str:
    """Where the networks ran and in what precision: a training search's train config, or
    a one-shot run's record ("" when the config says neither)."""
    evaluator = config.get("evaluator")
    params = evaluator.get("params") if isinstance(evaluator, dict) else None
    train = params.get("train") if isinstance(params, dict) else None
    oneshot = config.get("oneshot")
    for source in (train, oneshot):
        if isinstance(source, dict) and "device" in source:
            return f"{source['device']}, {source.get('precision', 'fp32')}"
    return ""


def _budget_text(budget: dict[str, Any]) -> str:
    parts = [f"{k} {v}" for k, v in budget.items() if v is not None]
    return ", ".join(parts) or "none"
