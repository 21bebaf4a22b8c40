"""Every registered strategy passes the conformance suite shipped in `nasforge.testing`."""

from __future__ import annotations

import pytest

from nasforge.strategy import STRATEGIES
from nasforge.testing.strategy_conformance import StrategyConformance, StrategySpec

SPECIAL = {
    "grid": StrategySpec("grid", seed_independent=True),
}
SPECS = [SPECIAL.get(name, StrategySpec(name)) for name in sorted(STRATEGIES)] + [
    StrategySpec("grid", {"shuffle": True}),
    StrategySpec("evolution", {"crossover_prob": 0.5}),
    StrategySpec("optuna", {"sampler": "nsga2"}),
]


@pytest.fixture(params=SPECS, ids=str)
def strategy_spec(request: pytest.FixtureRequest) -> StrategySpec:
    spec: StrategySpec = request.param
    return spec


class TestEveryStrategy(StrategyConformance):
    pass
