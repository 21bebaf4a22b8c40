"""Every registered strategy passes the conformance suite shipped in `nasforge.testing`."""

from __future__ import annotations

import pytest

from nasforge.strategy import STRATEGIES
from nasforge.testing.strategy_conformance import StrategyConformance, StrategySpec

WARM_START_SEEDS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
]
SPECIAL = {
    "grid": StrategySpec("grid", seed_independent=True),
}
SPECS = [SPECIAL.get(name, StrategySpec(name)) for name in sorted(STRATEGIES)] + [
    StrategySpec("grid", {"shuffle": True}),
    StrategySpec("evolution", {"crossover_prob": 0.5}),
    StrategySpec("optuna", {"sampler": "nsga2"}),
    StrategySpec("warm-start", {"inner": "evolution", "seeds": WARM_START_SEEDS}),
    StrategySpec("warm-start", {"inner": "hyperband", "seeds": WARM_START_SEEDS}),
]


@pytest.fixture(params=SPECS, ids=str)
def strategy_spec(request: pytest.FixtureRequest) -> StrategySpec:
    spec: StrategySpec = request.param
    return spec


class TestEveryStrategy(StrategyConformance):
    pass
