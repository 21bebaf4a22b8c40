"""Grid search: every arch of the space once, in grid order (or a seeded shuffle of it)."""

from __future__ import annotations

from collections.abc import Iterator

from nasforge.arch import Arch
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Proposal, SearchExhausted, Strategy


class GridSearch(Strategy):
    """Exhaustive enumeration; `shuffle` visits the grid in a random order (needs memory)."""

    name = "grid"
    multi_objective = True  # proposals never depend on scores

    def __init__(self, space: SearchSpace, *, seed: int = 0, shuffle: bool = False) -> None:
        super().__init__(space, seed=seed)
        self.shuffle = shuffle
        self._archs: Iterator[Arch] | None = None

    def ask(self) -> Proposal:
        if self._archs is None:
            self._archs = self._order()
        try:
            return Proposal(next(self._archs))
        except StopIteration:
            raise SearchExhausted(f"grid of {self.space.size()} archs is done") from None

    def _order(self) -> Iterator[Arch]:
        if not self.shuffle:
            return self.space.enumerate()
        archs = list(self.space.enumerate())
        return iter([archs[int(i)] for i in self.rng.permutation(len(archs))])
