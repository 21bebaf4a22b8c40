"""Tabular NAS-Bench-201 evaluator: a query returns the metrics the benchmark's authors measured.

The table is ``nb201.csv`` (one row per architecture; see ``shared/benchmarks/README.md``).
The budget is the training schedule, 12 or 200 epochs. The search signal is the validation
accuracy at that schedule (``valid_acc``). ``test_acc`` is the 200-epoch test accuracy, the
benchmark's final performance, returned for reporting only (as the NB201 authors do: search
with 12 epochs, report 200). Every numeric column of the row is returned under its own name.

The table holds no training time, so the cost of a query is *simulated* from FLOPs:
``epochs * flops_m * SECONDS_PER_EPOCH_PER_MFLOP`` (a 12-epoch query of the median cell,
52 MFLOPs on CIFAR-10, costs 44 simulated seconds). The constant is a modelling choice, not
a measurement.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.arch import Arch
from nasforge.errors import ArchError, BenchmarkError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.space.nb201.space import NB201Space

ENV_VAR = "NASFORGE_NB201"
FIDELITIES = (12, 200)
SECONDS_PER_EPOCH_PER_MFLOP = 0.07


@dataclass(frozen=True)
class DatasetColumns:
    """Which table columns hold a dataset's metrics at each fidelity."""

    valid: dict[int, str]
    test: str
    flops: str

    def required(self) -> list[str]:
        return [*self.valid.values(), self.test, self.flops]


DATASETS: dict[str, DatasetColumns] = {
    "cifar10": DatasetColumns(
        valid={12: "cifar10_valid_acc_12ep", 200: "cifar10_valid_acc"},
        test="cifar10_test_acc",
        flops="flops_m_cifar10",
    ),
    "cifar100": DatasetColumns(
        valid={12: "cifar100_valid_acc_12ep", 200: "cifar100_valid_acc_1seed"},
        test="cifar100_test_acc",
        flops="flops_m_cifar100",
    ),
    "imagenet16": DatasetColumns(
        valid={12: "imagenet16_valid_acc_12ep", 200: "imagenet16_valid_acc_1seed"},
        test="imagenet16_test_acc",
        flops="flops_m_imagenet16",
    ),
}


class NB201Table:
    """The NB201 table in memory: arch strings and numeric columns, indexed by arch string."""

    def __init__(self, path: Path, arch_strings: list[str], columns: dict[str, np.ndarray]):
        self.path = path
        self.arch_strings = arch_strings
        self.columns = columns
        self._row_of = {text: row for row, text in enumerate(arch_strings)}

    def __len__(self) -> int:
        return len(self.arch_strings)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str] | None = None) -> NB201Table:
        """Load the table from `path`, or from the file named by $NASFORGE_NB201."""
        if path is None:
            env = os.environ.get(ENV_VAR)
            if not env:
                raise BenchmarkError(
                    f"no NB201 benchmark given: pass --benchmark PATH or set {ENV_VAR}"
                )
            path = env
        file = Path(path).expanduser()
        if not file.exists():
            raise BenchmarkError(f"benchmark file not found: {file}")
        if not file.is_file():
            raise BenchmarkError(f"benchmark path is not a file: {file}")
        try:
            with file.open(newline="", encoding="utf-8") as handle:
                table = cls._read(file, csv.reader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BenchmarkError(f"cannot read benchmark file {file}: {reason}") from None
        return table.with_hardware()

    def with_hardware(self) -> NB201Table:
        """This table with HW-NAS-Bench's device metrics joined, when its file is found
        (`nasforge.evaluate.hw_nasbench`); the table's own columns win."""
        from nasforge.evaluate.hw_nasbench import find_hw_table, read_hw_columns

        hw_file = find_hw_table(self.path)
        if hw_file is None:
            return self
        for name, values in read_hw_columns(hw_file, self.arch_strings).items():
            self.columns.setdefault(name, values)
        return self

    @classmethod
    def _read(cls, file: Path, rows: Any) -> NB201Table:
        header = next(rows, None)
        if not header or "arch" not in header:
            raise BenchmarkError(f"benchmark file {file} lacks columns: arch")
        arch_col = header.index("arch")
        skipped = {"arch", "idx", "iso_id"}
        numeric = [name for name in header if name not in skipped]
        positions = [header.index(name) for name in numeric]
        arch_strings: list[str] = []
        values: list[list[float]] = []
        for line, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise BenchmarkError(
                    f"benchmark file {file} line {line}: "
                    f"{len(row)} fields where the header has {len(header)}"
                )
            arch_strings.append(row[arch_col])
            try:
                values.append([float(row[p]) if row[p] else math.nan for p in positions])
            except ValueError as exc:
                raise BenchmarkError(f"benchmark file {file} line {line}: {exc}") from None
        if not arch_strings:
            raise BenchmarkError(f"benchmark file {file} has no rows")
        matrix = np.asarray(values, dtype=np.float64).reshape(len(arch_strings), len(numeric))
        columns = {name: matrix[:, k].copy() for k, name in enumerate(numeric)}
        return cls(file, arch_strings, columns)

    def require(self, names: list[str]) -> None:
        missing = [name for name in names if name not in self.columns]
        if missing:
            raise BenchmarkError(f"benchmark file {self.path} lacks columns: {', '.join(missing)}")

    def row_of(self, nb201_string: str) -> int:
        try:
            return self._row_of[nb201_string]
        except KeyError:
            raise BenchmarkError(f"arch {nb201_string} is not in benchmark {self.path}") from None

    def metrics(self, row: int) -> dict[str, float]:
        return {name: float(column[row]) for name, column in self.columns.items()}


class NB201Benchmark(Evaluator):
    """Query NAS-Bench-201 as an evaluator; the budget is the fidelity in epochs (12 or 200)."""

    name = "nb201-benchmark"

    def __init__(
        self,
        table: NB201Table,
        *,
        dataset: str = "cifar10",
        fidelity: int = 200,
        space: NB201Space | None = None,
    ) -> None:
        if dataset not in DATASETS:
            raise BenchmarkError(
                f"unknown NB201 dataset {dataset!r}; expected one of {', '.join(DATASETS)}"
            )
        self.table = table
        self.dataset = dataset
        self.fidelity = _check_fidelity(fidelity)
        self.space = space or NB201Space()
        self.default_budget = float(self.fidelity)
        self._columns = DATASETS[dataset]
        table.require(self._columns.required())

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        dataset: str = "cifar10",
        fidelity: int = 200,
    ) -> NB201Benchmark:
        return cls(NB201Table.from_csv(path), dataset=dataset, fidelity=fidelity)

    def config(self) -> dict[str, Any]:
        return {
            "path": str(self.table.path.resolve()),
            "dataset": self.dataset,
            "fidelity": self.fidelity,
        }

    def metric_names(self) -> frozenset[str]:
        return frozenset({*self.table.columns, "valid_acc", "test_acc", "epochs"})

    def row(self, arch: Arch) -> int:
        return self.table.row_of(self.space.to_nb201_string(arch))

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        epochs = self.fidelity if budget is None else _check_fidelity(budget)
        try:
            row = self.row(arch)
        except ArchError as exc:
            return Result.failed(str(exc))
        metrics = self.table.metrics(row)
        metrics["valid_acc"] = metrics[self._columns.valid[epochs]]
        metrics["test_acc"] = metrics[self._columns.test]
        metrics["epochs"] = float(epochs)
        flops = metrics[self._columns.flops]
        cost = epochs * flops * SECONDS_PER_EPOCH_PER_MFLOP if math.isfinite(flops) else 0.0
        return Result(metrics=metrics, cost=cost)


def _check_fidelity(value: float) -> int:
    epochs = int(value)
    if epochs != value or epochs not in FIDELITIES:
        raise BenchmarkError(f"NB201 fidelity must be 12 or 200 epochs, not {value}")
    return epochs
