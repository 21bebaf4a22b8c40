"""The REINFORCE controller: valid, reproducible, replayable proposals, and it learns."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers import conv3x3_count, drive
from nasforge.arch import Arch
from nasforge.errors import ArchError, StrategyError
from nasforge.space import Decision, NB201Space, SearchSpace
from nasforge.space.nb201.space import LABELS
from nasforge.strategy.base import Observation, Proposal
from nasforge.strategy.reinforce import ReinforceController


def texts(seed: int, steps: int = 40) -> list[str]:
    """Module level, so that a spawned process can run it."""
    return [str(arch) for arch in drive(ReinforceController(NB201Space(), seed=seed), steps)]


class MixedSpace(SearchSpace):
    """Choices of every type, and a decision with a single choice."""

    name = "mixed"

    def __init__(self) -> None:
        self._decisions = (
            Decision("kernel", (3, 5, 7)),
            Decision("fixed", ("only",)),
            Decision("scale", (0.5, 2, "auto", False)),
            Decision("flag", (True, False)),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        raise NotImplementedError


def test_proposals_are_valid_archs_of_any_categorical_space() -> None:
    for space in (NB201Space(), MixedSpace()):
        strategy = ReinforceController(space, seed=3)
        proposed = drive(strategy, 30, lambda arch: float(len(str(arch))))
        assert all(space.validate(arch) == arch for arch in proposed)
        assert len(set(proposed)) > 1
    assert {arch["fixed"] for arch in proposed} == {"only"}


def test_same_seed_same_proposals_and_different_seed_different() -> None:
    assert texts(11) == texts(11)
    assert texts(11) != texts(12)


def test_the_policy_learns_a_synthetic_score() -> None:
    for seed in range(2):
        scores = [
            conv3x3_count(arch) for arch in drive(ReinforceController(NB201Space(), seed=seed), 200)
        ]
        first, last = statistics.fmean(scores[:50]), statistics.fmean(scores[150:])
        assert last > first + 2.5, (seed, first, last)


def test_replaying_the_asks_and_tells_reaches_the_same_state() -> None:
    original = ReinforceController(NB201Space(), seed=7)
    history: list[tuple[Proposal, float | None]] = []
    for step in range(30):
        proposal = original.ask()
        value = None if step % 7 == 3 else conv3x3_count(proposal.arch)
        history.append((proposal, value))
        original.tell(Observation(proposal, value))
    replayed = ReinforceController(NB201Space(), seed=7)
    for proposal, value in history:
        assert replayed.ask() == proposal
        replayed.tell(Observation(proposal, value))
    assert drive(replayed, 10) == drive(original, 10)


def test_tells_of_foreign_archs_train_the_policy() -> None:
    space = NB201Space()
    strategy = ReinforceController(space, seed=0)
    target = Arch(dict.fromkeys(LABELS, "avg_pool_3x3"))
    before = strategy.log_prob(target)
    rng = np.random.default_rng(0)
    for _ in range(20):
        strategy.tell(Observation(Proposal(space.sample(rng)), 0.0))
        strategy.tell(Observation(Proposal(target), 1.0))
    assert strategy.log_prob(target) > before + 1.0
    assert sum(arch == target for arch in drive(strategy, 20, lambda arch: None)) >= 2


def test_log_prob_is_that_of_a_distribution() -> None:
    space = MixedSpace()
    strategy = ReinforceController(space, seed=1)
    total = sum(np.exp(strategy.log_prob(arch)) for arch in space.enumerate())
    assert total == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ArchError):
        strategy.log_prob(Arch({"kernel": 4, "fixed": "only", "scale": 2, "flag": True}))


def test_failed_trials_count_as_the_worst_score_seen() -> None:
    strategy = ReinforceController(NB201Space(), seed=2)
    strategy.tell(Observation(strategy.ask(), None))  # nothing to compare with: ignored
    assert strategy.updates_ == 0 and strategy.lowest_ is None
    drive(strategy, 3, lambda arch: 5.0 + len(str(arch)) % 3)
    lowest = strategy.lowest_
    strategy.tell(Observation(strategy.ask(), None))
    assert strategy.updates_ == 4
    assert strategy.lowest_ == lowest


def test_batch_size_updates_every_batch() -> None:
    strategy = ReinforceController(NB201Space(), seed=2, batch_size=4)
    drive(strategy, 11)
    assert strategy.updates_ == 2
    assert len(strategy.pending_) == 3


def test_ask_and_tell_leave_torch_global_random_state_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    drive(ReinforceController(NB201Space(), seed=4), 10)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, nasforge.strategy.reinforce; print('torch' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


def test_config_holds_the_parameters() -> None:
    strategy = ReinforceController(NB201Space(), seed=0, hidden_size=16, batch_size=2)
    config = strategy.config()
    assert config["hidden_size"] == 16 and config["batch_size"] == 2
    rebuilt = ReinforceController(NB201Space(), seed=0, **config)
    assert drive(rebuilt, 10) == drive(strategy, 10)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"hidden_size": 0}, "hidden_size >= 1"),
        ({"learning_rate": 0.0}, "learning_rate > 0"),
        ({"learning_rate": -0.01}, "learning_rate > 0"),
        ({"learning_rate": float("nan")}, "learning_rate > 0"),
        ({"entropy_weight": -1e-4}, "entropy_weight >= 0"),
        ({"baseline_decay": 1.0}, "baseline_decay must lie in [0, 1)"),
        ({"baseline_decay": -0.1}, "baseline_decay must lie in [0, 1)"),
        ({"batch_size": 0}, "batch_size >= 1"),
    ],
)
def test_invalid_parameters(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(StrategyError) as info:
        ReinforceController(NB201Space(), **params)
    assert problem in str(info.value)
