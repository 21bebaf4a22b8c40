"""Pareto local search (Paquete et al., 2004): hill climbing for several objectives at once.

After `initial_samples` random archs, every proposal is an unvisited neighbor (one decision
changed) of a member of the current Pareto archive, the members visited in a random order.
Members whose whole neighborhood was proposed are explored; when every archive member is
explored, the search restarts from a random arch. Infeasible and failed trials never enter
the archive.

Asks may run ahead of tells (parallel workers): a neighbor is proposed once, running or not,
and results update the archive in whatever order they arrive.
"""

from __future__ import annotations

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.pareto import dominates
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy


class ParetoLocalSearch(Strategy):
    """Explore the neighborhoods of the non-dominated archs found so far."""

    name = "pareto-local"
    multi_objective = True

    def __init__(self, space: SearchSpace, *, seed: int = 0, initial_samples: int = 10) -> None:
        super().__init__(space, seed=seed)
        if initial_samples < 1:
            raise StrategyError(f"initial_samples must be >= 1, not {initial_samples}")
        self.initial_samples = initial_samples
        self.archive_: dict[Arch, tuple[float, ...]] = {}
        self.queues_: dict[Arch, list[Arch]] = {}
        self.proposed_: set[Arch] = set()
        self.asked_ = 0

    def ask(self) -> Proposal:
        self.asked_ += 1
        if self.asked_ > self.initial_samples:
            while True:
                open_members = [a for a in self.archive_ if self._queue(a)]
                if not open_members:
                    break
                member = open_members[int(self.rng.integers(len(open_members)))]
                neighbor = self._queue(member).pop()
                if neighbor not in self.proposed_:
                    return self._propose(neighbor)
        return self._propose(self.space.sample(self.rng))

    def tell(self, observation: Observation) -> None:
        scores = observation.scores
        if scores is None or observation.violation > 0:
            return
        if any(dominates(other, scores) or other == scores for other in self.archive_.values()):
            return
        self.archive_ = {
            arch: other for arch, other in self.archive_.items() if not dominates(scores, other)
        }
        self.archive_[observation.arch] = scores

    def _propose(self, arch: Arch) -> Proposal:
        self.proposed_.add(arch)
        return Proposal(arch)

    def _queue(self, member: Arch) -> list[Arch]:
        """The member's unproposed neighbors, in a random order fixed on first visit."""
        if member not in self.queues_:
            neighbors = self.space.neighbors(member)
            order = self.rng.permutation(len(neighbors))
            self.queues_[member] = [neighbors[int(i)] for i in order]
        queue = self.queues_[member]
        while queue and queue[-1] in self.proposed_:
            queue.pop()
        return queue
