"""Assemble a table search (any table, or HW-GPT-Bench by name) from plain settings: the
`TableSpace` of the rows that have every objective and its `TableEvaluator`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nasforge.errors import ConfigError
from nasforge.evaluate.hwgpt_bench import HWGPT_OBJECTIVE, hwgpt_layout
from nasforge.evaluate.table_lookup import TableEvaluator
from nasforge.run.objective import Objective
from nasforge.space.table import TableSpace


def table_parts(
    path: str | Path,
    decisions: Sequence[str],
    objectives: Sequence[Objective],
    *,
    report: Sequence[str] = (),
    cost_column: str | None = None,
) -> tuple[TableSpace, TableEvaluator]:
    """The space of the table's rows with every objective, and its lookup evaluator."""
    if not objectives:
        raise ConfigError(
            "a table search needs --objective COLUMN:max|min (repeat for several objectives)"
        )
    space = TableSpace(path, list(decisions), [o.metric for o in objectives])
    return space, TableEvaluator(space, report=report, cost_column=cost_column)


def hwgpt_parts(
    name: str,
    directory: str | Path | None,
    objectives: Sequence[Objective] | None,
    *,
    report: Sequence[str] = (),
    cost_column: str | None = None,
) -> tuple[TableSpace, TableEvaluator, list[Objective]]:
    """HW-GPT-Bench space `name` (hwgpt-s, hwgpt-m, hwgpt-l) as a table search; without
    objectives, perplexity (lower is better)."""
    path, decisions = hwgpt_layout(name, directory)
    goals = list(objectives or [Objective(HWGPT_OBJECTIVE, "min")])
    space, evaluator = table_parts(path, decisions, goals, report=report, cost_column=cost_column)
    return space, evaluator, goals
