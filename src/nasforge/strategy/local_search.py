"""Local search (White et al., UAI 2021: "Local search is state of the art for NAS").

Start from a random arch; evaluate its neighbors (archs that differ in one decision) in a
random order. With `first_improvement`, move as soon as a neighbor scores better; otherwise
evaluate the whole neighborhood and move to its best. At a local optimum, restart from a
new random arch.

An observation of an arch this search never proposed (a warm-start seed, a hand-fed trial)
becomes the current arch if it scores better than the current one (or there is none yet):
the search then climbs from the best of the seeds.

Asks may run ahead of tells (parallel workers). The neighbors of the current arch are handed
out while any are left, and their results count in whatever order they arrive. When there
is nothing to hand out yet (the start or the last neighbors still running), the next
proposal is a further random start: told, it becomes the current arch if it scores better
than the current one (or there is none yet), as a seed does. A restart at a local optimum
waits until every neighbor has been told, so a late result is never thrown away. With
nothing pending, this is exactly the sequential algorithm.
"""

from __future__ import annotations

from nasforge.arch import Arch
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy


class LocalSearch(Strategy):
    """Hill climbing over the one-decision neighborhood, with random restarts."""

    name = "local"

    def __init__(
        self, space: SearchSpace, *, seed: int = 0, first_improvement: bool = True
    ) -> None:
        super().__init__(space, seed=seed)
        self.first_improvement = first_improvement
        self.current_: tuple[Arch, float] | None = None
        self.starts_: set[Arch] = set()  # random starts proposed, not yet told
        self.queue_: list[Arch] = []
        self.waiting_: set[Arch] = set()
        self.best_neighbor_: tuple[Arch, float] | None = None
        self.proposed_: set[Arch] = set()

    def ask(self) -> Proposal:
        if self.current_ is not None and self.queue_:
            neighbor = self.queue_.pop()
            self.waiting_.add(neighbor)
            self.proposed_.add(neighbor)
            return Proposal(neighbor)
        if self.current_ is not None and not self.waiting_:
            self._restart()  # every neighbor told, none better: a local optimum
        # No current arch yet, a local optimum, or neighbors still running: a random start.
        start = self.space.sample(self.rng)
        self.starts_.add(start)
        self.proposed_.add(start)
        return Proposal(start)

    def tell(self, observation: Observation) -> None:
        arch, score = observation.arch, observation.score
        if arch not in self.proposed_:  # from elsewhere: climb from it if it is better
            if score is not None and (self.current_ is None or score > self.current_[1]):
                self._move_to(arch, score)
            return
        if arch in self.starts_:
            self.starts_.discard(arch)
            if score is not None and (self.current_ is None or score > self.current_[1]):
                self._move_to(arch, score)
            return
        if arch not in self.waiting_ or self.current_ is None:
            return  # an observation from an abandoned neighborhood
        self.waiting_.discard(arch)
        if score is None:
            return
        if self.best_neighbor_ is None or score > self.best_neighbor_[1]:
            self.best_neighbor_ = (arch, score)
        improves = score > self.current_[1]
        if improves and self.first_improvement:
            self._move_to(arch, score)
        elif not self.queue_ and not self.waiting_:
            best = self.best_neighbor_
            if best is not None and best[1] > self.current_[1]:
                self._move_to(*best)

    def _restart(self) -> None:
        self.current_ = None
        self.queue_ = []
        self.waiting_ = set()
        self.best_neighbor_ = None

    def _move_to(self, arch: Arch, score: float) -> None:
        self.current_ = (arch, score)
        neighbors = self.space.neighbors(arch)
        order = self.rng.permutation(len(neighbors))
        self.queue_ = [neighbors[int(i)] for i in order]
        self.waiting_ = set()
        self.best_neighbor_ = None
