"""Search strategies, and the registry the CLI picks them from by name."""

from __future__ import annotations

import inspect
from typing import Any

from nasforge.errors import StrategyError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import (
    Observation,
    Proposal,
    SearchExhausted,
    Strategy,
    WaitForResults,
)
from nasforge.strategy.bayesian import BayesianOptimization
from nasforge.strategy.evolution import RegularizedEvolution
from nasforge.strategy.grid_search import GridSearch
from nasforge.strategy.hyperband import BOHB, Hyperband, SuccessiveHalving
from nasforge.strategy.local_search import LocalSearch
from nasforge.strategy.nsga2 import NSGA2
from nasforge.strategy.optuna_sampler import TPE, OptunaStrategy
from nasforge.strategy.pareto_local import ParetoLocalSearch
from nasforge.strategy.random_search import RandomSearch
from nasforge.strategy.reinforce import ReinforceController
from nasforge.strategy.warm_start import WarmStart

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        RandomSearch,
        GridSearch,
        RegularizedEvolution,
        LocalSearch,
        NSGA2,
        ParetoLocalSearch,
        ReinforceController,
        BayesianOptimization,
        SuccessiveHalving,
        Hyperband,
        BOHB,
        TPE,
        OptunaStrategy,
        WarmStart,
    )
}


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, **params: Any) -> Strategy:
    """Build a registered strategy by name; unknown names and parameters are clear errors."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise StrategyError(
            f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}"
        ) from None
    accepted = {
        p
        for p, spec in inspect.signature(cls.__init__).parameters.items()
        if spec.kind is inspect.Parameter.KEYWORD_ONLY and p != "seed"
    }
    unknown = sorted(set(params) - accepted)
    if unknown:
        options = ", ".join(sorted(accepted)) or "none"
        raise StrategyError(
            f"strategy {name!r} has no option {', '.join(unknown)}; its options: {options}"
        )
    return cls(space, seed=seed, **params)


__all__ = [
    "BOHB",
    "NSGA2",
    "STRATEGIES",
    "TPE",
    "BayesianOptimization",
    "GridSearch",
    "Hyperband",
    "LocalSearch",
    "Observation",
    "OptunaStrategy",
    "ParetoLocalSearch",
    "Proposal",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceController",
    "SearchExhausted",
    "Strategy",
    "SuccessiveHalving",
    "WaitForResults",
    "WarmStart",
    "make_strategy",
]
