"""Random search: every proposal is sampled uniformly from the space."""

from __future__ import annotations

from nasforge.strategy.base import Proposal, Strategy


class RandomSearch(Strategy):
    """Uniform random sampling; the baseline every strategy must beat."""

    name = "random"
    multi_objective = True  # proposals never depend on scores

    def ask(self) -> Proposal:
        return Proposal(self.space.sample(self.rng))
