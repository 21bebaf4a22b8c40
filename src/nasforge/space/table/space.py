"""`TableSpace`: any table of architectures as a search space whose archs are its rows.

Each decision column is a decision, its choices the distinct values in it; an empty cell
makes the decision inactive in that row (a conditional decision: the arch of the row does
not hold it). The space is exactly the rows that have every objective
(`nasforge.space.table.data`), so every operation lands on a row: `sample` draws a row,
`mutate` changes one active decision and moves to the nearest row that has the new choice,
`crossover` mixes the parents' choices and moves to the nearest row, `neighbors` are the
nearest rows for each other choice of each active decision, `resolve` maps a choice for
every decision to the nearest row. "Nearest" counts the decisions (active or not) in which
two rows differ. An arch prints as ``COL=VALUE,...`` over its active decisions.

The table is read from its path when the space is made, so a stored experiment rebuilds it
by name (``make_space("table", path=..., decisions=[...], objectives=[...])``) without
running any code; `nasforge.evaluate.table_lookup.TableEvaluator` looks its rows up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.table.data import INACTIVE, TableData, read_table

if TYPE_CHECKING:
    from torch import nn

RESOLVE_CHUNK = 1024
"""Targets resolved together by `TableSpace.set_choices` (memory: rows x chunk floats)."""


class TableSpace(SearchSpace):
    """The rows of a table (CSV) as a search space; `decisions` name its decision columns,
    `objectives` the columns every row of the space must have a number in."""

    name = "table"
    builds_networks = False
    """Its archs are measured rows: `build` refuses (`spaces_fitting` skips this space)."""

    def __init__(
        self,
        path: str | Path,
        decisions: Sequence[str],
        objectives: Sequence[str] = (),
    ) -> None:
        if isinstance(decisions, str) or isinstance(objectives, str):
            raise SpaceError("table space: decisions and objectives are lists of column names")
        self.data: TableData = read_table(path, decisions, objectives)
        self.path = self.data.path
        self.objectives = tuple(objectives)
        self.conditional = bool((self.data.codes == INACTIVE).any())

    @classmethod
    def from_data(cls, data: TableData, objectives: Sequence[str] = ()) -> TableSpace:
        space = cls.__new__(cls)
        space.data, space.path, space.objectives = data, data.path, tuple(objectives)
        space.conditional = bool((data.codes == INACTIVE).any())
        return space

    @property
    def decisions(self) -> Sequence[Decision]:
        return self.data.decisions

    def config(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "decisions": [d.label for d in self.decisions],
            "objectives": list(self.objectives),
        }

    # -- rows ------------------------------------------------------------------------------
    def row(self, arch: Arch) -> int:
        """The row of the table that is `arch` (ArchError if none is)."""
        found = self.data.row_of.get(arch)
        if found is not None:
            return found
        by_label = {d.label: d for d in self.decisions}
        unknown = [label for label in arch if label not in by_label]
        if unknown:
            raise ArchError(
                f"arch does not fit table {self.path.name}: unknown decision(s) "
                f"{', '.join(unknown)}; its decisions are {', '.join(by_label)}"
            )
        ordered = Arch(
            {d.label: _coerce(d, arch[d.label]) for d in self.decisions if d.label in arch}
        )
        found = self.data.row_of.get(ordered)
        if found is None:
            raise ArchError(f"arch {arch} is not a row of table {self.path.name}")
        return found

    def validate(self, arch: Arch) -> Arch:
        return self.data.archs[self.row(arch)]

    def _codes(self, arch: Arch) -> np.ndarray:
        return np.asarray(self.data.codes[self.row(arch)])

    def _nearest(
        self,
        target: np.ndarray,
        rng: np.random.Generator | None = None,
        where: np.ndarray | None = None,
    ) -> int:
        """The row differing from `target` in the fewest decisions, among rows `where`
        allows; ties go to a random one (`rng`) or the first."""
        distance = (self.data.codes != target).sum(axis=1)
        if where is not None:
            distance = np.where(where, distance, np.iinfo(np.int64).max)
        best = np.flatnonzero(distance == distance.min())
        if rng is None or len(best) == 1:
            return int(best[0])
        return int(best[int(rng.integers(len(best)))])

    # -- generic operations ------------------------------------------------------------------
    def size(self) -> int:
        return len(self.data)

    def enumerate(self) -> Iterator[Arch]:
        """The rows, in the table's order."""
        return iter(list(self.data.archs))

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random row."""
        return self.data.archs[int(rng.integers(len(self.data)))]

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Another choice for one active decision (that has another choice in the table);
        the nearest row with that choice."""
        codes = self._codes(arch)
        mutable = [
            j for j, d in enumerate(self.decisions) if codes[j] != INACTIVE and len(d.choices) > 1
        ]
        if not mutable:
            return self.data.archs[self.row(arch)]
        j = mutable[int(rng.integers(len(mutable)))]
        size = len(self.decisions[j].choices)
        choice = (int(codes[j]) + 1 + int(rng.integers(size - 1))) % size
        target = codes.copy()
        target[j] = choice
        return self.data.archs[self._nearest(target, rng, self.data.codes[:, j] == choice)]

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """Each decision from either parent with equal chance; the nearest row."""
        a, b = self._codes(first), self._codes(second)
        take_first = rng.random(len(a)) < 0.5
        return self.data.archs[self._nearest(np.where(take_first, a, b), rng)]

    def neighbors(self, arch: Arch) -> list[Arch]:
        """For each active decision and each of its other choices, the nearest row with
        that choice (the first of equals), each row once, in decision order."""
        codes = self._codes(arch)
        own = self.row(arch)
        seen = {own}
        result = []
        for j, decision in enumerate(self.decisions):
            if codes[j] == INACTIVE:
                continue
            for k in range(len(decision.choices)):
                if k == codes[j]:
                    continue
                target = codes.copy()
                target[j] = k
                found = self._nearest(target, None, self.data.codes[:, j] == k)
                if found not in seen:
                    seen.add(found)
                    result.append(self.data.archs[found])
        return result

    def encode(self, arch: Arch) -> np.ndarray:
        """One-hot block per decision; all zeros for an inactive decision."""
        codes = self._codes(arch)
        parts = []
        for decision, k in zip(self.decisions, codes, strict=True):
            one_hot = np.zeros(len(decision.choices), dtype=np.float32)
            if k != INACTIVE:
                one_hot[int(k)] = 1.0
            parts.append(one_hot)
        return np.concatenate(parts)

    # -- conditional decisions ---------------------------------------------------------------
    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        """The row that best fits a choice for every decision: fewest active decisions that
        differ from (or are missing in) `assignment`, then most that agree, then the first."""
        target = np.full(len(self.decisions), -2, dtype=np.int64)
        for j, decision in enumerate(self.decisions):
            if decision.label in assignment:
                target[j] = decision.index(_coerce(decision, assignment[decision.label]))
        codes = self.data.codes
        active = codes != INACTIVE
        differ = (active & (codes != target)).sum(axis=1)
        agree = (active & (codes == target)).sum(axis=1)
        key = differ * (len(self.decisions) + 1) - agree
        return self.data.archs[int(np.argmin(key))]

    def set_choices(self, rows: np.ndarray, choices: Mapping[int, int]) -> np.ndarray:
        """For each row of choice indices (-1: inactive), the row of the table nearest to
        it with the choices ``j: k`` set, as that row's codes (what decision importance
        asks of a space tens of thousands of times, so in one pass). Nearest as in `mutate`:
        among the rows that hold every set choice (those that hold the most, if none holds
        them all), the one `resolve` prefers for the row with the choices set (inactive
        decisions at their first choice). Not `resolve` alone: a table of sampled
        architectures seldom holds a row that differs from another in one decision only, so
        the row itself, one decision off, would be nearest and a choice would change
        nothing."""
        targets = np.where(rows == INACTIVE, 0, rows)
        missing = np.zeros(len(self.data.codes), dtype=np.float32)
        for column, index in choices.items():
            targets[:, column] = index
            missing += self.data.codes[:, column] != index
        size = len(self.decisions)
        missing *= size * (2 * size + 3) + 1  # above any spread of `resolve`'s key
        unique, inverse = np.unique(targets, axis=0, return_inverse=True)
        found = np.concatenate(
            [
                self._resolve_codes(unique[start : start + RESOLVE_CHUNK], missing)
                for start in range(0, len(unique), RESOLVE_CHUNK)
            ]
        )
        return np.asarray(self.data.codes[found[inverse.reshape(-1)]])

    def _resolve_codes(self, targets: np.ndarray, penalty: np.ndarray) -> np.ndarray:
        """The row `resolve` gives for each complete target (a choice index per decision),
        `penalty` (one per table row) added to its key first: agreements counted as one
        product of one-hot matrices, not a pass over the table per target."""
        offsets, table, active = self._one_hot_rows()
        wanted = np.zeros((len(targets), table.shape[1]), dtype=np.float32)
        wanted[np.arange(len(targets))[:, None], offsets + targets] = 1.0
        # `resolve`'s key, differ * (size + 1) - agree with differ = active - agree, as
        # active * (size + 1) - agree * (size + 2): exact small integers in float32
        size = len(self.decisions)
        key = wanted @ table.T  # (targets, rows): agreements
        key *= -(size + 2)
        key += active * (size + 1) + penalty
        return np.asarray(np.argmin(key, axis=1))

    @functools.cache  # noqa: B019 - one table per space, kept as long as the space
    def _one_hot_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each decision's first column, the rows one-hot (inactive: zeros), and how many
        decisions each row has active."""
        offsets = np.cumsum([0, *(len(d.choices) for d in self.decisions)])
        codes = self.data.codes
        table = np.zeros((len(codes), int(offsets[-1])), dtype=np.float32)
        rows, columns = np.nonzero(codes != INACTIVE)
        table[rows, offsets[columns] + codes[rows, columns]] = 1.0
        active = (codes != INACTIVE).sum(axis=1).astype(np.float32)
        return offsets[:-1], table, active

    def complete(self, arch: Arch) -> dict[str, Choice]:
        """A choice for every decision: the row's, and the first choice where inactive."""
        codes = self._codes(arch)
        return {
            d.label: d.choices[int(k) if k != INACTIVE else 0]
            for d, k in zip(self.decisions, codes, strict=True)
        }

    def sample_with(self, answer: Callable[[Decision], Choice]) -> Arch:
        """Asks each decision in order that is active in some row agreeing with the answers
        so far; the row of the answers (the nearest one if no row has them all)."""
        codes = self.data.codes
        candidates = np.ones(len(codes), dtype=bool)
        given: dict[str, Choice] = {}
        for j, decision in enumerate(self.decisions):
            if not (candidates & (codes[:, j] != INACTIVE)).any():
                continue
            choice = answer(decision)
            given[decision.label] = choice
            narrowed = candidates & (codes[:, j] == decision.index(_coerce(decision, choice)))
            if narrowed.any():
                candidates = narrowed
        return self.resolve(given)

    # -- building ----------------------------------------------------------------------------
    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        raise SpaceError(
            f"space 'table' ({self.path.name}) holds measured rows, not networks: there is "
            "nothing to build or train"
        )


def _coerce(decision: Decision, choice: Choice) -> Choice:
    """`choice` as the type of the decision's choices when it is the same value written
    otherwise (2 for 2.0, "3" for 3)."""
    for candidate in decision.choices:
        if type(candidate) is type(choice):
            return choice
        same = (
            str(candidate) == str(choice)
            if isinstance(candidate, str) or isinstance(choice, str)
            else candidate == choice
        )
        if same and not isinstance(choice, bool):
            return candidate
    return choice
