"""Regularized evolution (Real et al., AAAI 2019), with optional crossover.

The population holds the `population_size` most recently evaluated archs. Each new child is
a mutation of the winner of a tournament among `sample_size` random members (or, with
probability `crossover_prob`, a mutated crossover of two tournament winners). The oldest
member dies when a child joins: age, not fitness, decides who leaves.

An observation of an arch this strategy never proposed (a warm-start seed, a hand-fed trial)
joins the population too, and takes the place of one of the random archs that first fill it,
so that seeds are not aged out by random archs before they can be selected.

Asks may run ahead of tells (parallel workers, as Real et al. ran it): a child is bred from
the population of results that have arrived, and a member's age is the order in which its
result arrived.
"""

from __future__ import annotations

from collections import deque

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy


class RegularizedEvolution(Strategy):
    """Aging evolution: tournament selection, mutation, optional crossover."""

    name = "evolution"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        population_size: int = 10,
        sample_size: int = 3,
        crossover_prob: float = 0.0,
    ) -> None:
        super().__init__(space, seed=seed)
        if population_size < 2:
            raise StrategyError(f"evolution needs population_size >= 2, not {population_size}")
        if not 1 <= sample_size <= population_size:
            raise StrategyError(
                f"evolution needs 1 <= sample_size <= population_size, not {sample_size}"
            )
        if not 0.0 <= crossover_prob <= 1.0:
            raise StrategyError(f"crossover_prob must lie in [0, 1], not {crossover_prob}")
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob
        self.population_: deque[tuple[Arch, float]] = deque(maxlen=population_size)
        self.random_asked_ = 0
        self.proposed_: set[Arch] = set()
        self.foreign_ = 0  # scored observations of archs this strategy never proposed

    def ask(self) -> Proposal:
        random_phase = self.random_asked_ + self.foreign_ < self.population_size
        if random_phase or len(self.population_) < self.sample_size:
            self.random_asked_ += 1
            return self._propose(self.space.sample(self.rng))
        parent = self._tournament()
        if self.crossover_prob > 0 and self.rng.random() < self.crossover_prob:
            parent = self.space.crossover(parent, self._tournament(), self.rng)
        return self._propose(self.space.mutate(parent, self.rng))

    def tell(self, observation: Observation) -> None:
        if observation.score is not None:
            self.population_.append((observation.arch, observation.score))
            if observation.arch not in self.proposed_:
                self.foreign_ += 1

    def _propose(self, arch: Arch) -> Proposal:
        self.proposed_.add(arch)
        return Proposal(arch)

    def _tournament(self) -> Arch:
        picks = self.rng.choice(len(self.population_), size=self.sample_size, replace=False)
        best = max(picks, key=lambda index: (self.population_[index][1], -index))
        return self.population_[int(best)][0]
