"""A table of architectures in memory: decision columns as choice codes, the rest as numbers.

`read_table` reads a CSV file whose rows are architectures: the columns named as decisions
give each row's choices (an empty cell: the decision is inactive in that row), every other
column whose cells are all numbers (or empty) is a metric. Only rows with a value for every
objective column are kept; rows that repeat an architecture are merged, their metrics
averaged (`TableData.notes` says how many). Everything a user can get wrong is a
`BenchmarkError` of one line naming the file and the column.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import BenchmarkError
from nasforge.space.base import Decision

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")
INACTIVE = -1
"""The code of a decision that is inactive in a row (an empty cell)."""


@dataclass
class TableData:
    """The rows of a table that form a search space, one per distinct architecture."""

    path: Path
    decisions: tuple[Decision, ...]
    codes: np.ndarray
    """Choice index per row and decision, shape (rows, decisions); `INACTIVE` where empty."""
    metrics: dict[str, np.ndarray]
    """Every numeric column that is not a decision: one float per row, NaN where empty."""
    archs: list[Arch]
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.row_of = {arch: row for row, arch in enumerate(self.archs)}

    def __len__(self) -> int:
        return len(self.archs)

    def arch_of(self, codes: np.ndarray) -> Arch:
        return _arch(self.decisions, codes)


def _arch(decisions: Sequence[Decision], codes: np.ndarray) -> Arch:
    return Arch(
        {d.label: d.choices[int(k)] for d, k in zip(decisions, codes, strict=True) if k != INACTIVE}
    )


def read_table(
    path: str | Path, decisions: Sequence[str], objectives: Sequence[str] = ()
) -> TableData:
    """The table at `path` as a space of its rows that have every objective (CSV)."""
    file = Path(path).expanduser()
    if file.suffix.lower() in (".parquet", ".pq"):
        raise BenchmarkError(
            f"table {file}: Parquet is not supported (it would need pyarrow); save the table as CSV"
        )
    if not file.exists():
        raise BenchmarkError(f"table file not found: {file}")
    if not file.is_file():
        raise BenchmarkError(f"table path is not a file: {file}")
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BenchmarkError(f"cannot read table file {file}: {reason}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise BenchmarkError(f"table file {file} is empty: expected a header row and data rows")
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    for line, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row) and len(row) != len(header):
            raise BenchmarkError(
                f"table file {file} line {line}: {len(row)} fields where the header has "
                f"{len(header)}"
            )
    if not body:
        raise BenchmarkError(f"table file {file} has a header but no rows")
    return _build(file.resolve(), header, body, list(decisions), list(objectives))


def _build(
    file: Path,
    header: list[str],
    body: list[list[str]],
    decisions: list[str],
    objectives: list[str],
) -> TableData:
    if not decisions:
        raise BenchmarkError(f"table {file}: name at least one decision column")
    _check_columns(file, header, decisions, objectives)
    repeated = sorted({name for name in decisions if decisions.count(name) > 1})
    if repeated:
        raise BenchmarkError(f"table {file}: decision column(s) named twice: {', '.join(repeated)}")
    both = [name for name in objectives if name in decisions]
    if both:
        raise BenchmarkError(
            f"table {file}: column(s) {', '.join(both)} cannot be both a decision and an objective"
        )
    position = {name: k for k, name in enumerate(header)}
    metrics = _numeric_columns(file, header, body, set(decisions), objectives)
    keep = np.ones(len(body), dtype=bool)
    for name in objectives:
        keep &= np.isfinite(metrics[name])
    if not keep.any():
        raise BenchmarkError(
            f"table {file}: no row has a number in every objective column ({', '.join(objectives)})"
        )
    kept = [row for row, wanted in zip(body, keep, strict=True) if wanted]
    metrics = {name: values[keep] for name, values in metrics.items()}
    notes = []
    if not keep.all():
        notes.append(
            f"table {file.name}: {int((~keep).sum())} of {len(body)} rows lack an objective "
            "and are not part of the space"
        )
    table_decisions, codes = _decision_codes(
        file, kept, [position[n] for n in decisions], decisions
    )
    empty = (codes == INACTIVE).all(axis=1)
    if empty.any():
        notes.append(
            f"table {file.name}: {int(empty.sum())} rows choose no decision and are dropped"
        )
        codes, metrics = codes[~empty], {n: v[~empty] for n, v in metrics.items()}
    codes, metrics, merged = _merge_duplicates(codes, metrics)
    if merged:
        notes.append(
            f"table {file.name}: {merged} rows repeat the architecture of an earlier row; "
            "the metrics of each architecture's rows are averaged"
        )
    if len(codes) < 2:
        raise BenchmarkError(
            f"table {file} has {len(codes)} architecture with every objective: a search needs "
            "at least two"
        )
    archs = [_arch(table_decisions, row) for row in codes]
    return TableData(file, table_decisions, codes, metrics, archs, notes)


def _check_columns(
    file: Path, header: list[str], decisions: list[str], objectives: list[str]
) -> None:
    for kind, names in (("decision", decisions), ("objective", objectives)):
        missing = [name for name in names if name not in header]
        if missing:
            shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
            raise BenchmarkError(
                f"table {file} has no {kind} column {', '.join(map(repr, missing))}; its "
                f"columns are {shown}"
            )
    for name in decisions:
        if not _LABEL.fullmatch(name):
            raise BenchmarkError(
                f"table {file}: decision column {name!r} cannot name a decision (use letters, "
                "digits and _ . : / -, starting with a letter or _)"
            )


def _numeric_columns(
    file: Path, header: list[str], body: list[list[str]], skip: set[str], objectives: list[str]
) -> dict[str, np.ndarray]:
    """Every column outside `skip` whose cells are numbers or empty (NaN); an objective
    column with anything else is an error."""
    out: dict[str, np.ndarray] = {}
    for k, name in enumerate(header):
        if name in skip or not name:
            continue
        values = np.empty(len(body), dtype=np.float64)
        for i, row in enumerate(body):
            cell = row[k].strip()
            if not cell:
                values[i] = math.nan
                continue
            try:
                values[i] = float(cell)
            except ValueError:
                if name in objectives:
                    raise BenchmarkError(
                        f"table {file}: objective column {name!r} holds {cell[:40]!r}, not a number"
                    ) from None
                break
        else:
            out[name] = values
    return out


def _decision_codes(
    file: Path, body: list[list[str]], positions: list[int], names: list[str]
) -> tuple[tuple[Decision, ...], np.ndarray]:
    codes = np.full((len(body), len(names)), INACTIVE, dtype=np.int32)
    decisions = []
    for j, (k, name) in enumerate(zip(positions, names, strict=True)):
        cells = [row[k].strip() for row in body]
        values = _typed_values([cell for cell in cells if cell])
        if not values:
            raise BenchmarkError(f"table {file}: decision column {name!r} is empty in every row")
        choices = tuple(sorted(set(values.values()), key=_order))
        index = {choice: n for n, choice in enumerate(choices)}
        for i, cell in enumerate(cells):
            if cell:
                codes[i, j] = index[values[cell]]
        decisions.append(Decision(name, choices))
    return tuple(decisions), codes


def _typed_values(cells: list[str]) -> dict[str, Choice]:
    """Each distinct cell text -> its choice: integers if every cell is one, else floats if
    every cell is a number, else the texts."""
    distinct = sorted(set(cells))
    for kind in (int, float):
        try:
            converted = {cell: kind(cell) for cell in distinct}
        except ValueError:
            continue
        if kind is float and not all(math.isfinite(v) for v in converted.values()):
            break
        return dict(converted)
    return {cell: cell for cell in distinct}


def _order(choice: Choice) -> tuple[int, float, str]:
    if isinstance(choice, str):
        return (1, 0.0, choice)
    return (0, float(choice), "")


def _merge_duplicates(
    codes: np.ndarray, metrics: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """One row per distinct arch, in order of first appearance; metrics averaged over the
    rows of an arch (ignoring empty cells). Also how many rows were merged away."""
    _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(first) == len(codes):
        return codes, metrics, 0
    order = np.argsort(first)  # unique rows in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    merged: dict[str, np.ndarray] = {}
    for name, values in metrics.items():
        finite = np.isfinite(values)
        sums = np.zeros(len(first))
        counts = np.zeros(len(first))
        np.add.at(sums, group[finite], values[finite])
        np.add.at(counts, group[finite], 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            merged[name] = np.where(counts > 0, sums / np.maximum(counts, 1.0), math.nan)
    return codes[np.sort(first)], merged, len(codes) - len(first)
