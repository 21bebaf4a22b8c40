"""Bayesian optimization (BANANAS-style) and the NB201 path encoding."""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np
import pytest

from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.nb201.path_encoding import PATHS, cell_paths, nb201_path_encoding
from nasforge.space.nb201.space import LABELS, NB201Space
from nasforge.space.table.mlp import MLPSpace
from nasforge.strategy.base import Observation, Proposal, Strategy
from nasforge.strategy.bayesian import BayesianOptimization
from nasforge.strategy.random_search import RandomSearch

# Small settings keep every test fast; the defaults are measured in docs/benchmarks.md.
FAST: dict[str, Any] = {"initial_random": 5, "epochs": 30, "num_candidates": 40}


def smooth(arch: Arch) -> float:
    """A synthetic score that a predictor can learn from a few dozen cells."""
    ops = [arch[label] for label in LABELS]
    return ops.count("nor_conv_3x3") + 0.5 * ops.count("nor_conv_1x1")


def drive(strategy: Strategy, steps: int) -> list[Arch]:
    proposed = []
    for _ in range(steps):
        proposal = strategy.ask()
        proposed.append(proposal.arch)
        strategy.tell(Observation(proposal, smooth(proposal.arch)))
    return proposed


def texts(seed: int, steps: int = 20, **params: Any) -> list[str]:
    """Module level, so that a spawned process can run it."""
    strategy = BayesianOptimization(NB201Space(), seed=seed, **{**FAST, **params})
    return [str(arch) for arch in drive(strategy, steps)]


def cell(ops: str) -> Arch:
    """An NB201 arch from its 6 ops, in NB201 string order, separated by spaces."""
    return Arch(dict(zip(LABELS, ops.split(), strict=True)))


# -- proposals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{}, {"encoding": "path"}, {"acquisition": "ucb"}, {"clip_quantile": 0.0, "max_edits": 1}],
)
def test_proposals_are_valid_archs_of_the_space(params: dict[str, Any]) -> None:
    space = NB201Space()
    strategy = BayesianOptimization(space, seed=1, **{**FAST, **params})
    for arch in drive(strategy, 15):
        assert space.validate(arch) == arch


def test_works_on_another_space_with_onehot_encoding() -> None:
    space = MLPSpace()
    strategy = BayesianOptimization(space, seed=0, **FAST)
    for _ in range(12):
        proposal = strategy.ask()
        assert space.validate(proposal.arch) == proposal.arch
        strategy.tell(Observation(proposal, float(len(str(proposal.arch)))))


def test_same_seed_same_proposals_different_seed_different_ones() -> None:
    assert texts(7) == texts(7)
    assert texts(7) != texts(8)


def test_same_seed_same_proposals_in_a_spawned_process() -> None:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        spawned = pool.apply(texts, (3,))
    assert spawned == texts(3)


def test_never_proposes_an_evaluated_cell_again() -> None:
    space = NB201Space()
    strategy = BayesianOptimization(space, seed=2, **FAST)
    seen: set[Arch] = set()
    for _ in range(40):
        proposal = strategy.ask()
        key = space.canonical(proposal.arch)
        assert key not in seen
        seen.add(key)
        strategy.tell(Observation(proposal, smooth(proposal.arch)))


def test_failed_evaluations_are_not_proposed_again_nor_learned_from() -> None:
    space = NB201Space()
    strategy = BayesianOptimization(space, seed=4, **FAST)
    seen: set[Arch] = set()
    for step in range(20):
        proposal = strategy.ask()
        assert space.canonical(proposal.arch) not in seen
        seen.add(space.canonical(proposal.arch))
        value = None if step % 3 == 0 else smooth(proposal.arch)
        strategy.tell(Observation(proposal, value))
    assert len(strategy.history_) == 13


def test_learns_the_synthetic_score_better_than_random() -> None:
    def best_after_40(strategy: Strategy) -> float:
        return max(smooth(arch) for arch in drive(strategy, 40))

    seeds = range(4)
    space = NB201Space()
    bayesian = [best_after_40(BayesianOptimization(space, seed=s, **FAST)) for s in seeds]
    random = [best_after_40(RandomSearch(space, seed=s)) for s in seeds]
    assert np.mean(bayesian) > np.mean(random) + 0.5
    assert np.mean(bayesian) >= 5.5  # the optimum is 6 (every edge a 3x3 conv)


def test_leaves_the_global_random_state_alone() -> None:
    import torch  # here, so that the spawned process above need not import it

    torch.manual_seed(123)
    np.random.seed(123)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # type: ignore[index]
    drive(BayesianOptimization(NB201Space(), seed=0, **FAST), 12)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # type: ignore[index]


def test_config_rebuilds_the_strategy() -> None:
    strategy = BayesianOptimization(NB201Space(), seed=5, **FAST, encoding="path")
    config = strategy.config()
    assert config["encoding"] == "path" and config["initial_random"] == 5
    rebuilt = BayesianOptimization(NB201Space(), seed=5, **config)
    assert drive(rebuilt, 12) == drive(strategy, 12)


def test_an_ask_before_the_tell_is_not_repeated() -> None:
    space = NB201Space()
    strategy = BayesianOptimization(space, seed=6, **FAST)
    drive(strategy, 8)
    pending = [strategy.ask() for _ in range(3)]
    assert len({space.canonical(p.arch) for p in pending}) == 3


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"initial_random": 0}, "initial_random >= 1"),
        ({"encoding": "graph"}, "unknown encoding 'graph'"),
        ({"acquisition": "ei"}, "unknown acquisition 'ei'"),
        ({"ucb_k": -1.0}, "ucb_k must be >= 0"),
        ({"clip_quantile": 1.0}, "clip_quantile must lie in [0, 1)"),
        ({"clip_quantile": -0.1}, "clip_quantile must lie in [0, 1)"),
        ({"max_edits": 0}, "max_edits >= 1"),
        ({"ensemble_size": 0}, "ensemble_size >= 1"),
        ({"hidden_size": 0}, "hidden_size >= 1"),
        ({"epochs": 0}, "epochs >= 1"),
        ({"num_parents": 0}, "num_parents >= 1"),
        ({"num_candidates": 0}, "num_candidates >= 1"),
        ({"num_random_candidates": -1}, "num_random_candidates >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    ],
)
def test_invalid_parameters(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(StrategyError) as info:
        BayesianOptimization(NB201Space(), **params)
    assert problem in str(info.value)


def test_path_encoding_needs_the_nb201_space() -> None:
    with pytest.raises(StrategyError, match="encoding 'path' needs the nb201 space"):
        BayesianOptimization(MLPSpace(), encoding="path")


# -- path encoding --------------------------------------------------------------------------


def features(arch: Arch) -> set[tuple[str, ...]]:
    encoding = nb201_path_encoding(arch)
    return {PATHS[i] for i in np.flatnonzero(encoding)}


def test_path_encoding_has_a_feature_per_op_sequence() -> None:
    assert len(PATHS) == 4 + 16 + 64
    assert len(set(PATHS)) == len(PATHS)
    assert nb201_path_encoding(cell("none " * 6)).shape == (84,)


def test_all_skip_cell_has_only_skip_paths() -> None:
    skip = "skip_connect"
    expected = {(skip,), (skip, skip), (skip, skip, skip)}
    assert features(cell("skip_connect " * 6)) == expected


def test_all_none_cell_has_no_paths() -> None:
    assert not nb201_path_encoding(cell("none " * 6)).any()


def test_paths_of_hand_computed_cells() -> None:
    # edges in NB201 string order: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3
    optimum = cell("nor_conv_3x3 nor_conv_3x3 nor_conv_3x3 skip_connect nor_conv_3x3 nor_conv_1x1")
    assert features(optimum) == {
        ("skip_connect",),  # 0->3
        ("nor_conv_3x3", "nor_conv_3x3"),  # 0->1->3
        ("nor_conv_3x3", "nor_conv_1x1"),  # 0->2->3
        ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_1x1"),  # 0->1->2->3
    }
    # only the chain 0->1->2->3 is live
    chain = cell("avg_pool_3x3 none nor_conv_1x1 none none skip_connect")
    assert features(chain) == {("avg_pool_3x3", "nor_conv_1x1", "skip_connect")}
    # a `none` on 0->1 cuts both routes through node 1
    cut = cell("none nor_conv_1x1 nor_conv_3x3 none nor_conv_3x3 avg_pool_3x3")
    assert cell_paths(tuple(str(cut[label]) for label in LABELS)) == {
        ("nor_conv_1x1", "avg_pool_3x3")
    }


def test_path_encoding_in_the_strategy_is_the_84_long_vector() -> None:
    strategy = BayesianOptimization(NB201Space(), seed=0, **FAST, encoding="path")
    drive(strategy, 8)
    proposal: Proposal = strategy.ask()
    assert strategy._encode(proposal.arch).shape == (84,)
