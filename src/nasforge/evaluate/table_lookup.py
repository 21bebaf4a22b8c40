"""`TableEvaluator`: a query returns the numbers of the table row that is the arch.

Every numeric column of the row that is not a decision is a metric under its own name (an
empty cell is left out), so objectives and constraints may use any of them. `report` names
columns shown beside the objectives (a test accuracy beside a validation signal): they are
metrics like the others and no strategy sees them unless an objective names them. The cost
of a query is the row's `cost_column` (simulated seconds), or 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ArchError, BenchmarkError, SpaceError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.space.base import SearchSpace
from nasforge.space.table.space import TableSpace


class TableEvaluator(Evaluator):
    """Look archs up in the table of a `TableSpace`."""

    name = "table"

    def __init__(
        self,
        space: TableSpace,
        *,
        report: Sequence[str] = (),
        cost_column: str | None = None,
    ) -> None:
        self.space = space
        self.report = tuple(report)
        self.cost_column = cost_column
        columns = space.data.metrics
        where = space.path
        for kind, names in (
            ("report", self.report),
            ("cost", [cost_column] if cost_column else []),
        ):
            decisions = {d.label for d in space.decisions}
            for column in names:
                if column not in columns:
                    what = "is a decision" if column in decisions else "is not a numeric column"
                    raise BenchmarkError(f"table {where}: {kind} column {column!r} {what}")
        if space.objectives:
            self.default_metric = space.objectives[0]

    @property
    def report_columns(self) -> tuple[str, ...]:
        return self.report

    def metric_names(self) -> frozenset[str]:
        return frozenset(self.space.data.metrics)

    def config(self) -> dict[str, Any]:
        return {"report": list(self.report), "cost_column": self.cost_column}

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        try:
            row = self.space.row(arch)
        except ArchError as exc:
            return Result.failed(str(exc))
        metrics = {
            name: float(values[row])
            for name, values in self.space.data.metrics.items()
            if math.isfinite(values[row])
        }
        cost = metrics.get(self.cost_column, 0.0) if self.cost_column else 0.0
        return Result(metrics=metrics, cost=max(0.0, cost))


def table_evaluator(
    space: SearchSpace, report: Sequence[str] = (), cost_column: str | None = None
) -> TableEvaluator:
    """The registry's maker: the evaluator of a stored table experiment's space."""
    if not isinstance(space, TableSpace):
        raise SpaceError(f"the table evaluator looks up rows of space 'table', not {space.name!r}")
    return TableEvaluator(space, report=report, cost_column=cost_column)
