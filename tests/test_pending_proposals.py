"""Asks ahead of tells (parallel workers): how each strategy handles pending proposals.

Every registered strategy also passes the conformance checks `ask_ahead` and `replay` (see
`nasforge.testing.strategy_conformance`); these tests pin what each one does about it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers import conv3x3_count as score
from helpers import drive
from nasforge.arch import Arch
from nasforge.space import Decision, NB201Space, SearchSpace
from nasforge.strategy import (
    BayesianOptimization,
    LocalSearch,
    Observation,
    OptunaStrategy,
    Proposal,
    ReinforceController,
    SearchExhausted,
    Strategy,
    SuccessiveHalving,
    WaitForResults,
    make_strategy,
)

FAST: dict[str, Any] = {"initial_random": 5, "epochs": 30, "num_candidates": 40}


def tell(strategy: Strategy, proposal: Proposal, value: float | None = None) -> None:
    value = score(proposal.arch) if value is None else value
    strategy.tell(Observation(proposal, value, (value,)))


class TinySpace(SearchSpace):
    """2 x 3 x 2 = 12 archs: small enough to exhaust."""

    name = "tiny"

    def __init__(self) -> None:
        self._decisions = (
            Decision("kernel", (3, 5)),
            Decision("op", ("conv", "pool", "skip")),
            Decision("wide", (True, False)),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        raise NotImplementedError


def tiny_score(arch: Arch, budget: float | None) -> float:
    return float(arch["kernel"]) + (arch["op"] == "conv") + (budget or 0.0) / 10


# -- Bayesian optimization: the constant liar --------------------------------------------


def bayesian_with_history(seed: int = 0, **params: Any) -> BayesianOptimization:
    strategy = BayesianOptimization(NB201Space(), seed=seed, **{**FAST, **params})
    drive(strategy, 8)
    return strategy


@pytest.mark.parametrize("clip_quantile", [0.0, 0.25])
def test_bayesian_fits_pending_archs_at_the_lowest_observed_score(clip_quantile: float) -> None:
    strategy = bayesian_with_history(clip_quantile=clip_quantile)
    observed = len(strategy.history_)
    features, targets = strategy.training_data()
    assert features.shape[0] == observed  # nothing pending: the observations alone
    pending = [strategy.ask(), strategy.ask()]
    features, targets = strategy.training_data()
    assert features.shape[0] == observed + 2
    for row, proposal in zip(features[observed:], pending, strict=True):
        np.testing.assert_array_equal(row, strategy.space.encode(proposal.arch))
    assert targets[observed:].tolist() == [targets[:observed].min()] * 2
    tell(strategy, pending[1])  # out of order: the right lie goes away
    features, _ = strategy.training_data()
    assert features.shape[0] == observed + 2  # one more observation, one lie fewer
    np.testing.assert_array_equal(features[-1], strategy.space.encode(pending[0].arch))
    tell(strategy, pending[0])
    assert strategy.pending_ == {}
    assert strategy.training_data()[0].shape[0] == observed + 2


def test_bayesian_lie_lowers_the_prediction_at_a_pending_arch() -> None:
    lowered = 0
    for seed in range(5):
        strategy = bayesian_with_history(seed, initial_random=4)
        pending = strategy.ask()  # a pick of the predictor: it expects much of it
        honest = copy.deepcopy(strategy)
        honest.pending_.clear()
        point = strategy.space.encode(pending.arch)[None, :].astype(np.float32)
        with_lie = strategy._fit_ensemble().predict(point).mean()
        without = honest._fit_ensemble().predict(point).mean()
        lowered += bool(with_lie < without)
    assert lowered == 5


def test_bayesian_never_proposes_a_pending_or_told_arch() -> None:
    strategy = bayesian_with_history(1)
    told = {strategy.space.canonical(arch) for arch, _ in strategy.history_}
    pending = [strategy.ask() for _ in range(25)]
    keys = [strategy.space.canonical(p.arch) for p in pending]
    assert len(set(keys)) == len(keys) and not set(keys) & told


# -- REINFORCE: rewards pair with their proposals -----------------------------------------


def weights(strategy: ReinforceController) -> list[torch.Tensor]:
    return [p.detach().clone() for p in strategy._policy().parameters]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_reinforce_pairs_each_reward_with_its_own_arch(batch_size: int) -> None:
    ahead = ReinforceController(NB201Space(), seed=2, batch_size=batch_size)
    drive(ahead, 5)
    asked = [ahead.ask() for _ in range(6)]
    values = [float(k) for k in range(6)]
    told = list(zip(asked, values, strict=True))[::-1]  # newest first
    for proposal, value in told:
        tell(ahead, proposal, value)
    in_order = ReinforceController(NB201Space(), seed=2, batch_size=batch_size)
    drive(in_order, 5)
    for proposal, value in told:  # the same observations, no asks ahead
        tell(in_order, proposal, value)
    assert all(map(torch.equal, weights(ahead), weights(in_order)))
    by_position = ReinforceController(NB201Space(), seed=2, batch_size=batch_size)
    drive(by_position, 5)
    for proposal, (_, value) in zip(asked, told, strict=True):  # rewards paired by position
        tell(by_position, proposal, value)
    assert not all(map(torch.equal, weights(ahead), weights(by_position)))


def test_reinforce_learns_from_a_reward_that_arrives_late() -> None:
    strategy = ReinforceController(NB201Space(), seed=4)
    drive(strategy, 5)
    first, *others = [strategy.ask() for _ in range(4)]
    for proposal in others[::-1]:
        tell(strategy, proposal, 0.0)
    before = strategy.log_prob(first.arch)
    tell(strategy, first, 10.0)  # the earliest ask, told last, scored best
    assert strategy.log_prob(first.arch) > before


# -- Local search: pending starts and neighbors are not thrown away ------------------------


def test_local_search_climbs_from_the_better_of_two_pending_starts() -> None:
    strategy = LocalSearch(NB201Space(), seed=0)
    first, second = strategy.ask(), strategy.ask()  # two random starts at once
    tell(strategy, second, 1.0)
    assert strategy.current_ == (second.arch, 1.0)
    tell(strategy, first, 5.0)  # late, and better
    assert strategy.current_ == (first.arch, 5.0)
    assert strategy.space.neighbors(first.arch)[0] in strategy.queue_


def test_local_search_waits_for_every_neighbor_before_restarting() -> None:
    strategy = LocalSearch(NB201Space(), seed=1, first_improvement=False)
    start = strategy.ask()
    tell(strategy, start, 1.0)
    neighbors = [strategy.ask() for _ in strategy.space.neighbors(start.arch)]
    for proposal in neighbors[1:]:
        tell(strategy, proposal, 0.5)
    extra = strategy.ask()  # the first neighbor is still running: a further random start
    assert extra.arch not in {p.arch for p in neighbors}
    assert strategy.current_ == (start.arch, 1.0)
    tell(strategy, neighbors[0], 2.0)  # the late neighbor is the best: the search moves
    assert strategy.current_ == (neighbors[0].arch, 2.0)
    tell(strategy, extra, 1.5)  # worse than the current arch: no move
    assert strategy.current_ == (neighbors[0].arch, 2.0)


# -- Budget schedulers: WaitForResults once the sampler is exhausted -----------------------


def test_scheduler_waits_for_results_when_its_sampler_is_exhausted() -> None:
    sh = SuccessiveHalving(TinySpace(), seed=0, sampler="grid", budgets=(1.0, 3.0))
    first = [sh.ask() for _ in range(12)]  # the whole grid, in four brackets of three
    assert {p.budget for p in first} == {1.0}
    with pytest.raises(WaitForResults):
        sh.ask()
    with pytest.raises(WaitForResults):  # asking again changes nothing
        sh.ask()
    for proposal in first[3:6][::-1]:  # the second bracket's rung, newest first
        tell(sh, proposal, tiny_score(proposal.arch, proposal.budget))
    promoted = sh.ask()
    assert promoted.budget == 3.0
    assert promoted.arch == max((p.arch for p in first[3:6]), key=lambda a: tiny_score(a, 1))
    with pytest.raises(WaitForResults):
        sh.ask()
    for proposal in [*first[:3], *first[6:], promoted]:
        tell(sh, proposal, tiny_score(proposal.arch, proposal.budget))
    last = [sh.ask() for _ in range(3)]  # the other brackets' promotions
    assert {p.budget for p in last} == {3.0}
    for proposal in last:
        tell(sh, proposal, tiny_score(proposal.arch, proposal.budget))
    with pytest.raises(SearchExhausted):
        sh.ask()


def irregular(strategy: Strategy, seed: int) -> list[tuple[Proposal, float | None, bool]]:
    """Random asks and tells, as parallel workers produce them; WaitForResults tells one."""
    rng = np.random.default_rng(seed)
    log: list[tuple[Proposal, float | None, bool]] = []
    waiting: list[Proposal] = []
    while True:
        if not waiting or rng.random() >= 0.4:
            try:
                proposal = strategy.ask()
            except SearchExhausted:
                if not waiting:
                    return log
            except WaitForResults:
                assert waiting, "WaitForResults with nothing pending"
            else:
                waiting.append(proposal)
                log.append((proposal, None, True))
                continue
        proposal = waiting.pop(int(rng.integers(len(waiting))))
        value = tiny_score(proposal.arch, proposal.budget)
        tell(strategy, proposal, value)
        log.append((proposal, value, False))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("sh", {"sampler": "grid", "budgets": (1.0, 3.0)}),
        ("hyperband", {"sampler": "grid", "budgets": (1.0, 3.0, 9.0)}),
        ("hyperband", {"sampler": "bayesian", "budgets": (1.0, 3.0)}),
        (
            "warm-start",
            {
                "inner": "sh",
                "inner_params": {"sampler": "grid", "budgets": (1.0, 3.0)},
                "seeds": ["kernel=5,op=conv,wide=true", "kernel=3,op=skip,wide=false"],
            },
        ),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scheduler_runs_to_exhaustion_and_replays(
    name: str, options: dict[str, Any], seed: int
) -> None:
    log = irregular(make_strategy(name, TinySpace(), seed=seed, **options), seed)
    asked = [(str(p.arch), p.budget) for p, _, is_ask in log if is_ask]
    assert len({arch for arch, _ in asked}) == TinySpace().size()  # the sampler is spent
    fresh = make_strategy(name, TinySpace(), seed=seed, **options)
    for proposal, value, is_ask in log:  # resume: only the asks that returned, in order
        if is_ask:
            assert fresh.ask() == proposal
        else:
            tell(fresh, proposal, value)
    with pytest.raises(SearchExhausted):
        fresh.ask()


# -- TPE and Optuna: the constant liar, pairing by arch ------------------------------------


def test_tpe_uses_the_constant_liar() -> None:
    for strategy in (make_strategy("tpe", NB201Space()), OptunaStrategy(NB201Space())):
        assert strategy.study_.sampler._constant_liar is True


def test_constant_liar_changes_nothing_in_a_sequential_run() -> None:
    import optuna

    with_liar = make_strategy("tpe", NB201Space(), seed=3)
    without = make_strategy("tpe", NB201Space(), seed=3)
    without.study_ = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=3, constant_liar=False)
    )
    assert drive(with_liar, 30) == drive(without, 30)


def test_optuna_tells_each_result_to_the_trial_that_proposed_it() -> None:
    import optuna

    strategy = make_strategy("tpe", NB201Space(), seed=5)
    drive(strategy, 12)
    asked = [strategy.ask() for _ in range(4)]
    running = optuna.trial.TrialState.RUNNING
    assert len(strategy.study_.get_trials(states=(running,))) == 4
    for proposal in asked[::-1]:
        tell(strategy, proposal)
    for trial in strategy.study_.trials[12:]:
        assert trial.value == score(Arch(trial.params))
