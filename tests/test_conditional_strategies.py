"""Every strategy on spaces with conditional decisions: valid proposals only, no inactive
decision stored, the same seed the same trials; the bridges `resolve`/`complete`/`sample_with`
of every space; reinforce's policy gradient leaves inactive decisions alone; hyperparameters
beside a conditional space. (The conformance suite runs on a conditional space too:
`tests/test_strategy_conformance.py`.)"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from helpers import load_small_cnn
from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError
from nasforge.objective import Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.choices.primitives import Choices
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.hyperparams import WithHyperparameters
from nasforge.space.nb201.space import NB201Space
from nasforge.strategy import (
    STRATEGIES,
    GridSearch,
    Observation,
    OptunaStrategy,
    Proposal,
    ReinforceController,
    SearchExhausted,
    make_strategy,
)
from nasforge.strategy.budget_kde import BudgetKDE
from nasforge.testing.strategy_conformance import SyntheticEvaluator

TRIALS = 30


SmallCNN = load_small_cnn()


class Pooled(nn.Module):
    """``pool_k`` exists only when ``pool`` is max: 6 archs."""

    def __init__(self, choices: Choices) -> None:
        super().__init__()
        if choices.choose_value("pool", ["none", "max"]) == "max":
            choices.choose_value("pool_k", [2, 3])
        choices.choose_value("act", ["relu", "tanh"])


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def cnn_hp() -> WithHyperparameters:
    """The example's conditional space with two hyperparameters beside it."""
    inner = ChoiceSpace(SmallCNN, input_shape=(3, 8, 8))
    return WithHyperparameters(inner, lr=(0.01, 0.1), weight_decay=None, batch_size=(32, 64))


def active_labels(space: ChoiceSpace, arch: Arch) -> set[str]:
    """The labels a build of ``arch`` asks for (independent of `validate`)."""
    return set(space.build_with_record(arch)[1].asked)


def score_of(arch: Arch) -> dict[str, float]:
    """Deeper, wider, 3x3 kernels and lr 0.1 score higher; a jitter breaks ties."""
    depth = int(arch["depth"])
    threes = sum(arch[f"kernel_{i}"] == 3 for i in range(depth))
    value = depth + threes + (arch["width"] == 32) + (arch.get("hp.lr") == 0.1)
    return {"score": value + zlib.crc32(str(arch).encode()) % 1000 / 10_000, "convs": 0.0}


def _options(name: str, space: SearchSpace) -> dict[str, Any]:
    if name != "warm-start":
        return {}
    seeds = [space.sample(np.random.default_rng(k)) for k in (11, 12)]
    return {"inner": "reinforce", "seeds": [str(arch) for arch in seeds]}


def _search(space: WithHyperparameters, name: str, seed: int, store: Store) -> list[str]:
    Experiment(
        space,
        make_strategy(name, space, seed=seed, **_options(name, space)),
        SyntheticEvaluator(score_of),
        budget=Budget(queries=TRIALS),
        objective=Objective("score"),
        store=store,
        name="conditional",
    ).run()
    return [t.arch for t in store.trials(store.experiment("conditional").id)]


# -- every registered strategy ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_stores_only_active_decisions(
    cnn_hp: WithHyperparameters, name: str
) -> None:
    inner = cnn_hp.space
    assert isinstance(inner, ChoiceSpace)
    stored = _search(cnn_hp, name, 0, Store(":memory:"))
    assert len(stored) >= TRIALS  # duplicates are stored too, beside the queries
    depths = set()
    for text in stored:
        arch = Arch.parse(text)
        inner_arch, hyperparameters = cnn_hp.split(arch)  # validates: refuses inactive ones
        assert set(inner_arch) == active_labels(inner, inner_arch), text
        assert set(hyperparameters) == {"lr", "batch_size"}
        depths.add(int(arch["depth"]))
    if name != "grid":  # grid order is depth first: its first trials all have depth 1
        assert len(depths) > 1, f"{name} never changed the depth: {sorted(depths)}"
    assert _search(cnn_hp, name, 0, Store(":memory:")) == stored


def test_grid_enumerates_every_active_combination_once() -> None:
    space = ChoiceSpace(Pooled)
    grid = GridSearch(space)
    archs = []
    with pytest.raises(SearchExhausted):
        while True:
            archs.append(grid.ask().arch)
    assert len(archs) == len(set(archs)) == space.size() == 6
    assert sorted(map(str, archs)) == sorted(
        ["pool=none,act=relu", "pool=none,act=tanh"]
        + [f"pool=max,pool_k={k},act={a}" for k in (2, 3) for a in ("relu", "tanh")]
    )


# -- the bridges ------------------------------------------------------------------------------


def test_unconditional_space_bridges_are_identities() -> None:
    space = NB201Space()
    assert not space.conditional
    arch = space.sample(np.random.default_rng(0))
    assert space.resolve(dict(arch)) == arch
    assert space.resolve({**arch, "not_a_decision": 1}) == arch
    assert space.complete(arch) == dict(arch)
    assert space.sample_with(lambda d: arch[d.label]) == arch
    with pytest.raises(ArchError, match="missing"):
        space.resolve({})


def test_choice_space_bridges_round_trip() -> None:
    space = ChoiceSpace(Pooled)
    full = {"pool": "none", "pool_k": 3, "act": "tanh"}
    assert space.resolve(full) == Arch({"pool": "none", "act": "tanh"})
    assert space.complete(Arch({"pool": "none", "act": "tanh"})) == {
        "pool": "none",
        "pool_k": 2,  # the default of an inactive decision: its first choice
        "act": "tanh",
    }
    for arch in space.enumerate():
        assert space.resolve(space.complete(arch)) == arch
    asked: list[str] = []

    def answer(decision: Decision) -> Choice:
        asked.append(decision.label)
        return decision.choices[0]

    assert space.sample_with(answer) == Arch({"pool": "none", "act": "relu"})
    assert asked == ["pool", "act"]  # pool_k is never asked


# -- hyperparameters beside a conditional space ---------------------------------------------------


def test_hyperparameters_beside_a_conditional_space(cnn_hp: WithHyperparameters) -> None:
    inner = cnn_hp.space
    assert isinstance(inner, ChoiceSpace) and cnn_hp.conditional
    rng = np.random.default_rng(0)
    archs = [cnn_hp.sample(rng) for _ in range(20)]
    archs += [cnn_hp.mutate(a, rng) for a in archs]
    archs += [cnn_hp.crossover(a, b, rng) for a, b in zip(archs, archs[::-1], strict=True)]
    archs += [n for a in archs[:3] for n in cnn_hp.neighbors(a)]
    width = sum(len(d.choices) for d in cnn_hp.decisions)
    for arch in archs:
        inner_arch, _ = cnn_hp.split(arch)
        assert set(inner_arch) == active_labels(inner, inner_arch), arch
        assert cnn_hp.parse(cnn_hp.format(arch)) == arch
        assert cnn_hp.resolve(cnn_hp.complete(arch)) == arch
        assert len(cnn_hp.complete(arch)) == len(cnn_hp.decisions)
        assert cnn_hp.encode(arch).shape == (width,)
    assert {int(a["depth"]) for a in archs} == {1, 2, 3}
    assert {a["hp.lr"] for a in archs} == {0.01, 0.1}
    with pytest.raises(ArchError, match=r"inactive .*kernel_2"):
        cnn_hp.validate(Arch({**archs[0], "depth": 1, "kernel_2": 3}))
    with pytest.raises(ArchError, match=r"missing hp\.batch_size"):
        cnn_hp.validate(Arch({k: v for k, v in archs[0].items() if k != "hp.batch_size"}))


def test_hyperparameters_beside_a_conditional_space_enumerate() -> None:
    space = WithHyperparameters(ChoiceSpace(Pooled), lr=(0.1, 0.01), weight_decay=None)
    archs = list(space.enumerate())
    assert len(archs) == len(set(archs)) == space.size() == 6 * 2 * 3
    assert all(space.validate(a) == a for a in archs)


# -- reinforce: inactive decisions get no policy gradient ------------------------------------------


def test_reinforce_gradient_ignores_inactive_decisions() -> None:
    space = ChoiceSpace(Pooled)
    labels = [d.label for d in space.decisions]
    assert labels == ["pool", "pool_k", "act"]
    strategy = ReinforceController(space, seed=0)
    policy = strategy._policy()
    arch = Arch({"pool": "none", "act": "tanh"})  # pool_k inactive
    indices, active = strategy.actions(arch)
    assert indices == [0, 0, 1] and active == [True, False, True]

    def head_gradients(masked: bool) -> list[float]:
        choices = torch.tensor([indices])
        mask = torch.tensor([active]) if masked else None
        log_prob, entropy = policy.evaluate(choices, mask)
        loss = -(2.0 * log_prob).mean() - 0.1 * entropy.mean()
        grads = torch.autograd.grad(loss, [head.weight for head in policy.heads])
        return [float(g.abs().sum()) for g in grads]

    masked = head_gradients(masked=True)
    assert masked[1] == 0.0 and masked[0] > 0 and masked[2] > 0
    assert head_gradients(masked=False)[1] > 0  # without the mask pool_k would learn

    # through ask and tell: the head of pool_k is left exactly as it was
    before = [p.detach().clone() for p in policy.heads[1].parameters()]
    other = [p.detach().clone() for p in policy.heads[2].parameters()]
    for score in (0.0, 1.0, 5.0, -3.0):
        strategy.tell(Observation(Proposal(arch), score))
    assert strategy.updates_ == 4
    assert all(torch.equal(b, p) for b, p in zip(before, policy.heads[1].parameters(), strict=True))
    assert not all(
        torch.equal(b, p) for b, p in zip(other, policy.heads[2].parameters(), strict=True)
    )


@pytest.mark.parametrize("model", [Pooled, SmallCNN])
def test_reinforce_scores_an_arch_as_it_drew_it(model: type[nn.Module]) -> None:
    space = ChoiceSpace(model)
    strategy = ReinforceController(space, seed=1)
    for _ in range(12):
        arch, log_prob = strategy.sample_with_log_prob()
        assert set(arch) == active_labels(space, arch)
        # the gradient's log-probability is that of the draws that proposed the arch
        assert strategy.log_prob(arch) == pytest.approx(log_prob, abs=1e-5)
        score = score_of_pool(arch) if model is Pooled else score_of(arch)["score"]
        strategy.tell(Observation(Proposal(arch), score))
    assert strategy.updates_ == 12
    if model is Pooled:  # masked log-probabilities make a distribution over the archs
        total = sum(np.exp(strategy.log_prob(arch)) for arch in space.enumerate())
        assert total == pytest.approx(1.0, abs=1e-5)


def score_of_pool(arch: Arch) -> float:
    return float(arch["pool"] == "max") + float(arch.get("pool_k", 0)) + (arch["act"] == "relu")


# -- optuna and bohb ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tpe", "optuna"])
def test_optuna_study_holds_only_active_decisions(name: str) -> None:
    pytest.importorskip("optuna")
    space = ChoiceSpace(SmallCNN, input_shape=(3, 8, 8))
    strategy = make_strategy(name, space, seed=0)
    assert isinstance(strategy, OptunaStrategy)
    for _ in range(12):
        proposal = strategy.ask()
        strategy.tell(Observation(proposal, score_of(proposal.arch)["score"]))
    foreign = next(arch for arch in space.enumerate() if arch not in strategy.pending_)
    strategy.tell(Observation(Proposal(foreign), 1.0))
    trials = strategy.study_.trials
    assert len(trials) == 13
    for trial in trials:
        arch = space.validate(
            Arch(
                {d.label: trial.params[d.label] for d in space.decisions if d.label in trial.params}
            )
        )
        assert set(trial.params) == set(arch)
    assert trials[-1].params == dict(foreign)


def test_bohb_model_proposes_resolved_archs() -> None:
    space = ChoiceSpace(SmallCNN, input_shape=(3, 8, 8))
    kde = BudgetKDE(space, seed=0, random_fraction=0.0)
    rng = np.random.default_rng(1)
    for _ in range(40):
        arch = space.sample(rng)
        kde.tell(Observation(Proposal(arch, 1.0), score_of(arch)["score"]))
    assert kde._model() is not None  # enough results: every ask comes from the model
    archs = [kde.ask().arch for _ in range(10)]
    for arch in archs:
        assert set(arch) == active_labels(space, arch)
        assert space.validate(arch) == arch


# -- the constructor's paths -------------------------------------------------------------------


def test_known_paths_give_what_constructor_runs_give() -> None:
    cached, fresh = ChoiceSpace(SmallCNN), ChoiceSpace(SmallCNN)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(100):
        fresh._next.clear()  # every operation runs the constructor
        a, b = cached.sample(rng_a), fresh.sample(rng_b)
        assert a == b and list(a) == list(b)
        fresh._next.clear()
        assert cached.mutate(a, rng_a) == fresh.mutate(b, rng_b)
    assert len(cached._next) > 100


def test_each_decision_is_asked_once_on_and_off_the_known_paths() -> None:
    space = ChoiceSpace(Pooled)
    asked: list[str] = []

    def answer_with(choices: dict[str, Choice]) -> Callable[[Decision], Choice]:
        def answer(decision: Decision) -> Choice:
            asked.append(decision.label)
            return choices[decision.label]

        return answer

    first = {"pool": "none", "act": "relu"}
    assert space.sample_with(answer_with(first)) == Arch(first)  # the constructor runs
    assert space.sample_with(answer_with(first)) == Arch(first)  # a known path
    off = {"pool": "none", "act": "tanh"}  # leaves the known path at its last answer
    assert space.sample_with(answer_with(off)) == Arch(off)
    deeper = {"pool": "max", "pool_k": 3, "act": "tanh"}
    assert space.sample_with(answer_with(deeper)) == Arch(deeper)
    assert asked == ["pool", "act"] * 3 + ["pool", "pool_k", "act"]


def test_a_pickled_space_leaves_its_caches_behind() -> None:
    space = ChoiceSpace(Pooled)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(10)]
    assert space._next and space._validated
    copy = pickle.loads(pickle.dumps(space))
    assert not copy._next and not copy._validated
    assert copy.decisions == space.decisions
    assert [copy.sample(np.random.default_rng(0)) for _ in range(1)] == archs[:1]
