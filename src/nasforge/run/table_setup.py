"""Assemble a search on a benchmark beyond NAS-Bench-201 from plain settings: a table (any
table, or HW-GPT-Bench by name: the `TableSpace` of the rows that have every objective and
its `TableEvaluator`), or the darts space on the NAS-Bench-301 surrogate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluate.hwgpt_bench import HWGPT_OBJECTIVE, hwgpt_layout
from nasforge.evaluate.nb301 import NB301Surrogate, check_space
from nasforge.evaluate.table_lookup import TableEvaluator
from nasforge.objective import Objective
from nasforge.space import make_space
from nasforge.space.darts.space import DartsSpace
from nasforge.space.table.space import TableSpace


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


def nb301_parts(
    space_name: str,
    space_params: dict[str, Any],
    hyperparameters: dict[str, list[Any]],
    path: str | Path | None,
    *,
    fidelity: int = 98,
) -> tuple[DartsSpace, NB301Surrogate]:
    """The darts space and the NAS-Bench-301 surrogate (folder `path`) as its evaluator."""
    if path is None:
        raise ConfigError(
            "--evaluator nb301 needs --benchmark DIR: the folder of model_v2.onnx and "
            "encoding_v2.json (shared/benchmarks/nb301_surrogate)"
        )
    if hyperparameters:
        raise ConfigError("the NAS-Bench-301 surrogate has no hyperparameters to search: drop --hp")
    if space_name != DartsSpace.name:
        raise ConfigError(
            f"the NAS-Bench-301 surrogate covers space 'darts' only, not {space_name!r}"
        )
    space = make_space(space_name, **{"distinct_inputs": True, **space_params})
    check_space(space)
    assert isinstance(space, DartsSpace)
    return space, NB301Surrogate(path, fidelity=fidelity, space=space)
