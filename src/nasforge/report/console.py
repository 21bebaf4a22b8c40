"""Rich renderings of a search for the terminal: the leaderboard and the status table."""

from __future__ import annotations

from rich.table import Table

from nasforge.arch import Arch
from nasforge.run.objective import Objective
from nasforge.run.results import SearchResult
from nasforge.space.base import SearchSpace

REPORT_ONLY_METRIC = "test_acc"


def leaderboard_table(
    result: SearchResult, space: SearchSpace, objective: Objective, k: int = 10
) -> Table:
    """The top `k` evaluated trials by score, with the objective and (if known) test metric."""
    table = Table(title=f"Leaderboard: {result.name} (top {k} of {result.usage.queries} evaluated)")
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    table.add_column("architecture", overflow="fold")
    table.add_column(f"{objective.metric} ({objective.direction})", justify="right")
    show_test = any(REPORT_ONLY_METRIC in t.metrics for t in result.trials)
    if show_test and objective.metric != REPORT_ONLY_METRIC:
        table.add_column(f"{REPORT_ONLY_METRIC} (report only)", justify="right")
    for rank, trial in enumerate(result.leaderboard(k), start=1):
        row = [
            str(rank),
            str(trial.number),
            space.format(Arch.parse(trial.arch)),
            _number(trial.metrics.get(objective.metric)),
        ]
        if show_test and objective.metric != REPORT_ONLY_METRIC:
            row.append(_number(trial.metrics.get(REPORT_ONLY_METRIC)))
        table.add_row(*row)
    return table


def status_table(rows: list[dict[str, str]]) -> Table:
    table = Table(title="Experiments")
    for column in ("name", "space", "strategy", "seed", "evaluated", "budget", "best", "state"):
        table.add_column(column, justify="right" if column in ("seed", "evaluated") else "left")
    for row in rows:
        table.add_row(
            *(
                row[column]
                for column in (
                    "name",
                    "space",
                    "strategy",
                    "seed",
                    "evaluated",
                    "budget",
                    "best",
                    "state",
                )
            )
        )
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}" if abs(value) < 1e-3 else f"{value:.2f}"
