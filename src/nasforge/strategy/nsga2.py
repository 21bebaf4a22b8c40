"""NSGA-II (Deb et al., 2002) over a space's decisions, with constrained domination.

The population is ranked by non-dominated sorting and crowding distance. Parents are picked
by binary tournaments on (rank, crowding), recombined with probability `crossover_prob` and
mutated. Once `population_size` children have been told, parents and children compete
and the best `population_size` survive. Feasible members beat infeasible ones; among the
infeasible, smaller violation wins (Deb's constrained domination). Failed trials count as
infinitely infeasible.

Asks may run ahead of tells (parallel workers): a generation is made of the first
`population_size` results to arrive, whatever proposals they came from; parents are picked
from the last complete generation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.pareto import crowding_distance, non_dominated_sort
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy


@dataclass(frozen=True)
class _Member:
    arch: Arch
    scores: tuple[float, ...] | None
    violation: float

    @property
    def feasible(self) -> bool:
        return self.scores is not None and self.violation == 0


class NSGA2(Strategy):
    """Multi-objective evolution: non-dominated sorting, crowding, elitist survival."""

    name = "nsga2"
    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        population_size: int = 20,
        crossover_prob: float = 0.5,
    ) -> None:
        super().__init__(space, seed=seed)
        if population_size < 2:
            raise StrategyError(f"nsga2 needs population_size >= 2, not {population_size}")
        if not 0.0 <= crossover_prob <= 1.0:
            raise StrategyError(f"crossover_prob must lie in [0, 1], not {crossover_prob}")
        self.population_size = population_size
        self.crossover_prob = crossover_prob
        self.population_: list[_Member] = []
        self.rank_: list[tuple[int, float]] = []
        self.offspring_: list[_Member] = []
        self.random_asked_ = 0

    def ask(self) -> Proposal:
        if self.random_asked_ < self.population_size or not self.population_:
            self.random_asked_ += 1
            return Proposal(self.space.sample(self.rng))
        parent = self._tournament()
        if self.rng.random() < self.crossover_prob:
            parent = self.space.crossover(parent, self._tournament(), self.rng)
        return Proposal(self.space.mutate(parent, self.rng))

    def tell(self, observation: Observation) -> None:
        violation = observation.violation if observation.scores is not None else math.inf
        self.offspring_.append(_Member(observation.arch, observation.scores, violation))
        if len(self.offspring_) >= self.population_size:
            self.population_ = self._survivors(self.population_ + self.offspring_)
            self.offspring_ = []
            self.rank_ = self._ranks(self.population_)

    def _tournament(self) -> Arch:
        first, second = (int(i) for i in self.rng.integers(len(self.population_), size=2))
        rank_a, crowd_a = self.rank_[first]
        rank_b, crowd_b = self.rank_[second]
        better = first if (rank_a, -crowd_a) <= (rank_b, -crowd_b) else second
        return self.population_[better].arch

    def _survivors(self, members: list[_Member]) -> list[_Member]:
        ordered = [members[i] for i in self._order(members)]
        return ordered[: self.population_size]

    def _order(self, members: list[_Member]) -> list[int]:
        """Indices best first: feasible by front then crowding, then infeasible by violation."""
        feasible = [i for i, m in enumerate(members) if m.feasible]
        infeasible = sorted(
            (i for i, m in enumerate(members) if not m.feasible),
            key=lambda i: (members[i].violation, i),
        )
        order: list[int] = []
        points = [members[i].scores or () for i in feasible]
        for front in non_dominated_sort(points):
            crowding = crowding_distance([points[k] for k in front])
            ranked = sorted(range(len(front)), key=lambda k: (-crowding[k], front[k]))
            order += [feasible[front[k]] for k in ranked]
        return order + infeasible

    def _ranks(self, members: list[_Member]) -> list[tuple[int, float]]:
        """(front number, crowding distance) of each member; infeasible ones rank last."""
        ranks: list[tuple[int, float]] = [(len(members) + 1, 0.0)] * len(members)
        feasible = [i for i, m in enumerate(members) if m.feasible]
        points = [members[i].scores or () for i in feasible]
        for number, front in enumerate(non_dominated_sort(points)):
            crowding = crowding_distance([points[k] for k in front])
            for k, distance in zip(front, crowding, strict=True):
                ranks[feasible[k]] = (number, distance)
        return ranks
