"""The HTML report's sections that are tables: settings, the final model, progress, the
leaderboard and every trial."""

from __future__ import annotations

import json
from html import escape

from nasforge.report.content import ReportContent
from nasforge.report.html_parts import (
    budget_text,
    compact_number,
    device_text,
    headline_metrics,
    metric_cell,
    metric_names,
    named_text,
    percent_text,
    plain_text,
    section_html,
    space_text,
    strategy_text,
)
from nasforge.report.svg import Chart, Series, chart_svg
from nasforge.run.spec import task_of

LEADERBOARD_SIZE = 10


def settings_section(content: ReportContent) -> str:
    config = content.config
    result = content.result
    budget = config.get("budget") or {}
    usage = result.usage
    counts = result.counts()
    facts: list[tuple[str, str]] = [
        ("space", space_text(config)),
        ("strategy", strategy_text(config.get("strategy", config.get("method", "")))),
        ("evaluator", named_text(config.get("evaluator", ""))),
        ("objectives", ", ".join(f"{o.metric} ({o.direction})" for o in result.objectives)),
        ("budget", budget_text(budget)),
        (
            "used",
            f"{usage.queries} evaluated of {len(result.trials)} proposals; "
            f"{usage.simulated_seconds:,.1f} evaluation seconds; "
            f"{usage.wall_seconds:,.1f} s wall",
        ),
        ("trials by status", ", ".join(f"{k} {v}" for k, v in counts.items() if v)),
        ("device", device_text(config)),
    ]
    constraints = config.get("constraints")
    if constraints:
        facts.append(("constraints", plain_text(constraints)))
    task = task_of(config)
    if task and "task" not in config:  # a search's task is in its evaluator's settings
        facts.append(("task", task))
    for key in ("task", "seed", "source"):
        if key in config:
            facts.append((key, plain_text(config[key])))
    if content.space_error:
        facts.append(("note", content.space_error))
    body = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    body += "</dl>"
    body += (
        '<details><summary class="note">full configuration</summary><pre class="arch">'
        f"{escape(json.dumps(config, indent=2, sort_keys=True))}</pre></details>"
    )
    return section_html("settings", "Settings and budget", body)


def final_section(content: ReportContent) -> str:
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
            percent_text(final.get("valid_accuracy"))
            + (" (trained on: not held out)" if final.get("valid_trained") else ""),
        ),
        ("epochs", plain_text(final.get("epochs", ""))),
        ("saved to", plain_text(final.get("model_dir", ""))),
    ]
    if final.get("trial") is not None:
        facts.insert(0, ("trial", plain_text(final["trial"])))
    members = final.get("members")
    for i, member in enumerate(members if isinstance(members, list) else [], start=1):
        if isinstance(member, dict) and member.get("test_accuracy") is not None:
            facts.append(
                (
                    f"member {i}",
                    f"{member.get('arch', '')}: test accuracy "
                    f"{float(member['test_accuracy']):.2f}%, validation accuracy "
                    f"{percent_text(member.get('valid_accuracy'))}",
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
                )
                + (
                    " (refit on training + validation for test)"
                    if baseline.get("test_fit") == "train+valid"
                    else ""
                ),
            )
        )
    if final.get("loses_to_baseline"):
        facts.append(("note", str(final["loses_to_baseline"])))
    body = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    title = "The retrained ensemble" if final.get("members") else "The retrained winner"
    return section_html("final", title, body + "</dl>")


def progress_section(content: ReportContent) -> str:
    progress = content.progress
    if progress is None:
        return section_html("progress", "Best so far", '<p class="note">no finished trial yet</p>')
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
    return section_html("progress", "Best so far", body)


def leaderboard_section(content: ReportContent) -> str:
    result = content.result
    if result.multi_objective:
        ranked = result.pareto_front()[:LEADERBOARD_SIZE]
        title = f"Leaderboard: the Pareto front ({len(result.pareto_front())} trials)"
    else:
        ranked = result.leaderboard(LEADERBOARD_SIZE)
        title = f"Leaderboard (top {len(ranked)} of {result.usage.queries} evaluated)"
    if not ranked:
        return section_html("leaderboard", "Leaderboard", '<p class="note">no scored trial yet</p>')
    metrics = headline_metrics(content, ranked)
    head = '<tr><th class="num">rank</th><th class="num">trial</th><th>architecture</th>'
    head += "".join(f'<th class="num">{escape(m)}</th>' for m in metrics) + "</tr>"
    rows = []
    for rank, trial in enumerate(ranked, start=1):
        cells = "".join(metric_cell(trial.metrics.get(m)) for m in metrics)
        rows.append(
            f'<tr><td class="num">{rank}</td><td class="num">{trial.number}</td>'
            f'<td class="arch">{escape(content.arch_text(trial))}</td>{cells}</tr>'
        )
    body = f'<table class="sortable"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    return section_html("leaderboard", title, body)


def all_trials_section(content: ReportContent) -> str:
    """Every trial but the duplicates (a repeat of an earlier arch reuses its result; the
    settings count them), with every metric; compact cells, as a 3,000-trial search on
    NAS-Bench-201 has 50-odd metrics a trial."""
    trials = [t for t in content.result.trials if t.duplicate_of is None]
    if not trials:
        return section_html("trials", "All trials", '<p class="note">no trial yet</p>')
    metrics = metric_names(trials)
    head = (
        "<tr><th>trial</th><th>status</th><th>architecture</th>"
        + "".join(f"<th>{escape(m)}</th>" for m in metrics)
        + "<th>cost s</th></tr>"
    )
    rows = []
    for trial in trials:
        cells = "".join(f"<td>{compact_number(trial.metrics.get(m))}</td>" for m in metrics)
        rows.append(
            f'<tr data-trial="{trial.number}"><td>{trial.number}</td>'
            f"<td>{escape(trial.status.value)}</td>"
            f'<td class="arch">{escape(content.arch_text(trial))}</td>{cells}'
            f"<td>{compact_number(trial.cost)}</td></tr>"
        )
    duplicates = len(content.result.trials) - len(trials)
    body = (
        f'<p class="note"><span id="trial-count">{len(trials)}</span> trials'
        + (f" (and {duplicates} duplicates, which reused their results)" if duplicates else "")
        + "; click a column to sort.</p>"
        f'<div class="wide"><table class="sortable numeric" id="all-trials"><thead>{head}'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    return section_html("trials", "All trials", body)
