"""Small pieces of the HTML report: a section, a table, and numbers and config values as
text."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from nasforge.report.content import ReportContent
from nasforge.run.storage import TrialRecord


def section_html(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{body}</section>'


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metric_names(trials: Sequence[TrialRecord]) -> list[str]:
    names: dict[str, None] = {}
    for trial in trials:
        for name in trial.metrics:
            names.setdefault(name, None)
    return list(names)


HEADLINE_METRICS = ("test_acc", "accuracy", "params", "flops", "latency_ms", "epochs")
"""Shown in the leaderboard after the objectives, when measured (all metrics: all trials)."""


def headline_metrics(content: ReportContent, trials: Sequence[TrialRecord]) -> list[str]:
    measured = set(metric_names(trials))
    wanted = [o.metric for o in content.result.objectives]
    wanted += [c.get("metric", "") for c in content.config.get("constraints") or []]
    wanted += list(HEADLINE_METRICS)
    return [m for m in dict.fromkeys(wanted) if m in measured]


def metric_cell(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return '<td class="num" data-value="">–</td>'
    return f'<td class="num" data-value="{value!r}">{number_text(value)}</td>'


def number_text(value: float) -> str:
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def pair_indices(count: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(count) for j in range(i + 1, count)][:3]


def plain_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def named_text(value: Any) -> str:
    """``{"name": n, "params": {...}}`` as ``n (k=v, ...)``; anything else as JSON."""
    if isinstance(value, dict) and "name" in value:
        params = value.get("params") or {}
        options = ", ".join(f"{k}={plain_text(v)}" for k, v in params.items())
        return str(value["name"]) + (f" ({options})" if options else "")
    return plain_text(value)


def strategy_text(value: Any) -> str:
    """The strategy; a warm start as its inner strategy, seed count and transfer source (its
    seeds and prior are in the full configuration)."""
    params = value.get("params") if isinstance(value, dict) else None
    if not isinstance(params, dict) or "inner" not in params:
        return named_text(value)
    inner = named_text({"name": params["inner"], "params": params.get("inner_params")})
    text = f"{value.get('name')} ({len(params.get('seeds') or [])} seeds first), then {inner}"
    if params.get("source"):
        prior = len(params.get("prior") or [])
        text += f"; transfer from {params['source']} ({prior} prior archs)"
    return text


def space_text(config: dict[str, Any]) -> str:
    space = config.get("space") or {}
    params = space.get("params") or {}
    options = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{space.get('name', '?')}" + (f" ({options})" if options else "")


def device_text(config: dict[str, Any]) -> str:
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


def budget_text(budget: dict[str, Any]) -> str:
    parts = [f"{k} {v}" for k, v in budget.items() if v is not None]
    return ", ".join(parts) or "none"


def compact_number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.6g}"


def percent_text(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}%"
