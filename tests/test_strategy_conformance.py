"""Every registered strategy passes the conformance suite shipped in `nasforge.testing`."""

from __future__ import annotations

import pytest

from nasforge.strategy import STRATEGIES
from nasforge.testing.strategy_conformance import (
    CONDITIONAL,
    ConformanceSpace,
    StrategyConformance,
    StrategySpec,
)

WARM_START_SEEDS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
]
CONDITIONAL_SEEDS = [
    "width=32,depth=1,op_0=conv,kernel_0=3,pool=none",
    "width=8,depth=3,op_0=skip,op_1=conv,kernel_1=5,op_2=relu,pool=max,pool_size=2",
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


CONDITIONAL_SPECS = [SPECIAL.get(name, StrategySpec(name)) for name in sorted(STRATEGIES)] + [
    StrategySpec("grid", {"shuffle": True}),
    StrategySpec("evolution", {"crossover_prob": 0.5}),
    StrategySpec("optuna", {"sampler": "nsga2"}),
    StrategySpec("warm-start", {"inner": "reinforce", "seeds": CONDITIONAL_SEEDS}),
    StrategySpec("warm-start", {"inner": "bohb", "seeds": CONDITIONAL_SEEDS}),
]


@pytest.fixture(params=SPECS, ids=str)
def strategy_spec(request: pytest.FixtureRequest) -> StrategySpec:
    spec: StrategySpec = request.param
    return spec


class TestEveryStrategy(StrategyConformance):
    pass


class TestEveryStrategyOnAConditionalSpace(StrategyConformance):
    """The same tests on a space whose decisions exist only under others' choices."""

    @pytest.fixture(params=CONDITIONAL_SPECS, ids=str)
    def strategy_spec(self, request: pytest.FixtureRequest) -> StrategySpec:
        spec: StrategySpec = request.param
        return spec

    @pytest.fixture
    def conformance_space(self) -> ConformanceSpace:
        return CONDITIONAL
