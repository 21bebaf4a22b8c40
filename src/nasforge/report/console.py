"""Rich renderings of a search for the terminal: the leaderboard and the status table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from nasforge.arch import Arch
from nasforge.objective import Objective
from nasforge.run.results import SearchResult
from nasforge.space.base import SearchSpace

EXTRA_COLUMNS = {
    "test_acc": "test_acc (report only)",
    "params": "params",
    "latency_ms": "latency ms",
    "cost": "seconds",
}


def leaderboard_table(
    result: SearchResult,
    space: SearchSpace,
    objective: Objective,
    k: int = 10,
    extra: Sequence[str] = (),
) -> Table:
    """The top `k` evaluated trials by score: the objective, then test accuracy (report only),
    parameters and latency where the evaluator measured them, the `extra` metrics (a table's
    ``--report`` columns, shown only), and each trial's cost."""
    table = Table(title=f"Leaderboard: {result.name} (top {k} of {result.usage.queries} evaluated)")
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    table.add_column("architecture", overflow="fold")
    table.add_column(f"{objective.metric} ({objective.direction})", justify="right")
    ranked = result.leaderboard(k)
    extras = [
        name
        for name in EXTRA_COLUMNS
        if name != objective.metric and (name == "cost" or any(name in t.metrics for t in ranked))
    ]
    extras[-1:-1] = [name for name in extra if name != objective.metric and name not in extras]
    for name in extras:
        table.add_column(EXTRA_COLUMNS.get(name, f"{name} (report only)"), justify="right")
    for rank, trial in enumerate(ranked, start=1):
        row = [
            str(rank),
            str(trial.number),
            space.format(Arch.parse(trial.arch)),
            _number(trial.metrics.get(objective.metric)),
        ]
        for name in extras:
            value = trial.cost if name == "cost" else trial.metrics.get(name)
            row.append(f"{value:,.0f}" if name == "params" and value else _number(value))
        table.add_row(*row)
    return table


def pareto_table(result: SearchResult, space: SearchSpace, extra: Sequence[str] = ()) -> Table:
    """The Pareto front: one row per member, one column per objective, then the `extra`
    metrics (shown only)."""
    front = result.pareto_front()
    table = Table(
        title=f"Pareto front: {result.name} ({len(front)} of {result.usage.queries} evaluated)"
    )
    table.add_column("trial", justify="right")
    table.add_column("architecture", overflow="fold")
    for objective in result.objectives:
        table.add_column(f"{objective.metric} ({objective.direction})", justify="right")
    shown = [name for name in extra if name not in {o.metric for o in result.objectives}]
    for name in shown:
        table.add_column(f"{name} (report only)", justify="right")
    for trial in front:
        row = [str(trial.number), space.format(Arch.parse(trial.arch))]
        row += [_number(trial.metrics.get(o.metric)) for o in result.objectives]
        row += [_number(trial.metrics.get(name)) for name in shown]
        table.add_row(*row)
    return table


STATUS_COLUMNS = (
    "name",
    "task",
    "space",
    "strategy",
    "seed",
    "evaluated",
    "budget",
    "best",
    "test acc",
    "state",
)
"""The columns of `status_table`; "test acc" is the retrained winner's."""


def status_table(rows: list[dict[str, str]]) -> Table:
    table = Table(title="Experiments")
    for column in STATUS_COLUMNS:
        table.add_column(column, justify="right" if column in ("seed", "evaluated") else "left")
    for row in rows:
        table.add_row(*(row.get(column, "-") for column in STATUS_COLUMNS))
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}" if abs(value) < 1e-3 else f"{value:.2f}"
