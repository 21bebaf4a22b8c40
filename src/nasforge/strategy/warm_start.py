"""Warm start: propose a few given architectures first, then hand over to any strategy.

The seeds are typically the best of a large random sample by a zero-cost proxy (see
`nasforge.proxies.warm_start.zero_cost_seeds`), as in the "warmup" of Abdelfattah et al.
(ICLR 2021), but any archs will do. They are proposed in the order given, with the
evaluator's default budget; after them, every proposal comes from the inner strategy.

Every observation is told to the inner strategy, the seeds' included, so it starts from
what they taught it: evolution's population and local search's incumbent take them in
(both count a seed as one of their own random starting points), Bayesian optimization
trains its predictor on them, REINFORCE updates its controller with them, NSGA-II and Pareto
local search rank them with their own trials, TPE and Optuna add them to their study.

With a budget scheduler as the inner strategy (``sh``, ``hyperband``, ``bohb``) the seeds
go to its sampler instead: they are the first archs the sampler hands out, so they are
proposed first among new archs and in order, at the lowest rung of the bracket they fall
in, and are promoted to higher budgets only if they earn it, like any other arch. (The
promotions of a bracket can come before its later seeds.) Screening seeds cheaply is what a
scheduler is for; a seed scored at full budget outside the brackets would be no help to them.

Transfer (`nasforge.run.transfer`, ``search --warm-start-from STORE:NAME``): the seeds are
the best archs of an earlier search on another task, and its trials are the `prior`, given
to the inner strategy through `Strategy.learn_prior` before its first ask: they inform its
model without being queries here (the Bayesian predictor trains on them, TPE adds them to
its study); evolution's population starts as the seeds, re-scored on this task. `source`
records where they came from.

The inner strategy gets the same seed, and this strategy draws no random numbers itself, so
the state is still a function of the seed and the ask/tell sequence, and replay resumes it.
`config()` holds the inner strategy's name and full config and the seeds as text, so a
stored experiment is rebuilt with its seeds and never needs to compute them again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, PriorTrial, Proposal, Strategy
from nasforge.strategy.hyperband import SuccessiveHalving


class WarmStart(Strategy):
    """Propose `seeds` (arch texts of the space) first, then the `inner` strategy's picks."""

    name = "warm-start"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        inner: str = "evolution",
        inner_params: Mapping[str, Any] | None = None,
        seeds: Sequence[str | Arch] = (),
        prior: Sequence[Sequence[Any]] = (),
        source: str = "",
    ) -> None:
        from nasforge.strategy import make_strategy  # here: the registry imports this module

        super().__init__(space, seed=seed)
        if inner == self.name:
            raise StrategyError("warm-start cannot wrap another warm-start; give it every seed")
        if isinstance(seeds, (str, Arch)):
            raise StrategyError("warm-start seeds must be a list of archs, not a single one")
        archs = [space.validate(space.parse(s) if isinstance(s, str) else s) for s in seeds]
        self.inner = inner
        self.inner_ = make_strategy(inner, space, seed=seed, **dict(inner_params or {}))
        self.inner_params = self.inner_.config()
        self.seeds = [space.format(arch) for arch in archs]
        self.prior: list[tuple[str, float]] = [(str(text), float(z)) for text, z in prior]
        self.source = source
        self.multi_objective = self.inner_.multi_objective
        self.pending_: deque[Arch] = deque(archs)
        if isinstance(self.inner_, SuccessiveHalving):  # its sampler hands the seeds out
            self.inner_.sampler_ = _Seeded(self.inner_.sampler_, archs)
            self.pending_.clear()
        if self.prior:
            self.inner_.learn_prior(
                [PriorTrial(space.validate(space.parse(text)), z) for text, z in self.prior]
            )

    def config(self) -> dict[str, Any]:
        return {
            "inner": self.inner,
            "inner_params": dict(self.inner_params),
            "seeds": list(self.seeds),
            "prior": [list(pair) for pair in self.prior],
            "source": self.source,
        }

    def configure_objectives(self, count: int) -> None:
        self.inner_.configure_objectives(count)

    def ask(self) -> Proposal:
        if self.pending_:
            return Proposal(self.pending_.popleft())
        return self.inner_.ask()

    def tell(self, observation: Observation) -> None:
        self.inner_.tell(observation)


class _Seeded(Strategy):
    """A budget scheduler's sampler that hands out the seeds before its own picks."""

    def __init__(self, sampler: Strategy, seeds: Sequence[Arch]) -> None:
        super().__init__(sampler.space, seed=sampler.seed)
        self.name = sampler.name
        self.sampler = sampler
        self.multi_objective = sampler.multi_objective
        self.pending_ = deque(seeds)

    def config(self) -> dict[str, Any]:
        return self.sampler.config()

    def configure_objectives(self, count: int) -> None:
        self.sampler.configure_objectives(count)

    def ask(self) -> Proposal:
        if self.pending_:
            return Proposal(self.pending_.popleft())
        return self.sampler.ask()

    def tell(self, observation: Observation) -> None:
        self.sampler.tell(observation)

    def learn_prior(self, prior: Sequence[PriorTrial]) -> None:
        self.sampler.learn_prior(prior)
