"""Strategies through ask and tell: conformance for every registered one, then per-strategy."""

from __future__ import annotations

import multiprocessing
import zlib
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from helpers import conv3x3_count as score
from helpers import drive
from nasforge.arch import Arch
from nasforge.errors import StrategyError
from nasforge.space.nb201.space import LABELS, NB201Space
from nasforge.strategy import (
    STRATEGIES,
    LocalSearch,
    Observation,
    Proposal,
    RegularizedEvolution,
    make_strategy,
)

N_PROPOSALS = 60


def proposal_texts(name: str, seed: int) -> list[str]:
    return [str(a) for a in drive(make_strategy(name, NB201Space(), seed=seed), N_PROPOSALS)]


def all_proposal_texts(seed: int) -> dict[str, list[str]]:
    """Module level, so that a spawned process can run it."""
    return {name: proposal_texts(name, seed) for name in STRATEGIES}


def hamming(first: Arch, second: Arch) -> int:
    return sum(first[label] != second[label] for label in LABELS)


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(params=sorted(STRATEGIES))
def strategy_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def spawned_seed0_texts() -> dict[str, list[str]]:
    """Every strategy's proposals for seed 0, computed in one freshly spawned process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(all_proposal_texts, (0,))


# -- conformance: every registered strategy ----------------------------------------------------


def test_registry_holds_the_expected_strategies() -> None:
    assert {"random", "grid", "evolution", "local", "nsga2", "tpe", "optuna"} <= set(STRATEGIES)
    assert all(cls.name == name for name, cls in STRATEGIES.items())


def test_proposals_are_valid_archs_of_the_space(strategy_name: str, space: NB201Space) -> None:
    strategy = make_strategy(strategy_name, space, seed=3)
    for _ in range(N_PROPOSALS):
        proposal = strategy.ask()
        assert isinstance(proposal, Proposal)
        assert space.validate(proposal.arch) == proposal.arch
        assert list(proposal.arch) == list(LABELS)
        strategy.tell(Observation(proposal, score(proposal.arch)))


def test_failed_evaluations_are_tolerated(strategy_name: str, space: NB201Space) -> None:
    def flaky(arch: Arch) -> float | None:
        return None if zlib.crc32(str(arch).encode()) % 3 == 0 else score(arch)

    strategy = make_strategy(strategy_name, space, seed=4)
    proposed = drive(strategy, N_PROPOSALS, flaky)
    assert all(space.validate(a) == a for a in proposed)
    assert len(set(proposed)) > 1


def test_same_seed_same_proposals(strategy_name: str) -> None:
    assert proposal_texts(strategy_name, 11) == proposal_texts(strategy_name, 11)


SEED_INDEPENDENT = {"grid"}  # a plain grid visits the space in one fixed order


def test_different_seeds_different_proposals(strategy_name: str) -> None:
    if strategy_name in SEED_INDEPENDENT:
        assert proposal_texts(strategy_name, 11) == proposal_texts(strategy_name, 12)
    else:
        assert proposal_texts(strategy_name, 11) != proposal_texts(strategy_name, 12)


def test_same_seed_same_proposals_in_a_spawned_process(
    strategy_name: str, spawned_seed0_texts: dict[str, list[str]]
) -> None:
    assert spawned_seed0_texts[strategy_name] == proposal_texts(strategy_name, 0)


def test_config_rebuilds_the_strategy(strategy_name: str, space: NB201Space) -> None:
    strategy = make_strategy(strategy_name, space, seed=5)
    rebuilt = make_strategy(strategy_name, space, seed=5, **strategy.config())
    assert rebuilt.config() == strategy.config()
    assert drive(rebuilt, 20) == drive(strategy, 20)


# -- regularized evolution -----------------------------------------------------------------------


class RecordingSpace(NB201Space):
    """NB201 that records the crossovers and mutations a strategy asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.crossovers: list[tuple[Arch, Arch, Arch]] = []
        self.mutations: list[tuple[Arch, Arch]] = []

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        child = super().crossover(first, second, rng)
        self.crossovers.append((first, second, child))
        return child

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        child = super().mutate(arch, rng)
        self.mutations.append((arch, child))
        return child


def evolution_run(
    space: RecordingSpace, crossover_prob: float, steps: int = 120
) -> Iterator[tuple[int, Arch, list[tuple[Arch, float]]]]:
    """Drive evolution; yield (step, proposal, population before the ask) per step."""
    strategy = RegularizedEvolution(
        space, seed=1, population_size=10, sample_size=3, crossover_prob=crossover_prob
    )
    population: deque[tuple[Arch, float]] = deque(maxlen=10)
    for step in range(steps):
        proposal = strategy.ask()
        yield step, proposal.arch, list(population)
        value = score(proposal.arch)
        strategy.tell(Observation(proposal, value))
        population.append((proposal.arch, value))


def test_evolution_mutates_tournament_winners_after_the_random_phase() -> None:
    space = RecordingSpace()
    mutated = 0
    for step, arch, population in evolution_run(space, crossover_prob=0.0):
        if step < 10:
            continue
        # A tournament of 3 never picks one of the 2 worst members of the population.
        ranked = sorted(population, key=lambda member: member[1])
        eligible = [member for member, _ in ranked[2:]]
        assert any(hamming(arch, member) == 1 for member in eligible), step
        mutated += 1
    assert mutated == 110
    assert space.crossovers == []
    assert len(space.mutations) == 110


def test_evolution_random_phase_fills_the_population_first() -> None:
    space = RecordingSpace()
    strategy = RegularizedEvolution(space, seed=2, population_size=8, sample_size=3)
    drive(strategy, 8)
    assert space.mutations == []
    drive(strategy, 1)
    assert len(space.mutations) == 1


def test_evolution_with_crossover_recombines_then_mutates() -> None:
    space = RecordingSpace()
    recombined = 0
    for step, arch, population in evolution_run(space, crossover_prob=1.0):
        if step < 10:
            continue
        members = [member for member, _ in population]
        # every decision but at most one (the mutation) comes from one of two members
        assert any(
            sum(arch[k] not in (first[k], second[k]) for k in LABELS) <= 1
            for first in members
            for second in members
        ), step
        first, second, child = space.crossovers[-1]
        assert first in members and second in members
        assert space.mutations[-1] == (child, arch)
        recombined += 1
    assert recombined == 110
    assert len(space.crossovers) == 110


def test_evolution_forgets_the_oldest_member() -> None:
    strategy = RegularizedEvolution(NB201Space(), seed=0, population_size=4, sample_size=2)
    drive(strategy, 4)
    first = list(strategy.population_)
    drive(strategy, 1)
    assert list(strategy.population_)[:3] == first[1:]


# -- local search ----------------------------------------------------------------------------


@pytest.mark.parametrize("first_improvement", [True, False])
def test_local_search_proposes_neighbors_of_its_current_arch(first_improvement: bool) -> None:
    space = NB201Space()
    strategy = LocalSearch(space, seed=6, first_improvement=first_improvement)
    current: tuple[Arch, float] | None = None
    seen: dict[Arch, float] = {}  # neighbors of `current` evaluated so far
    moves = restarts = 0
    for _ in range(300):
        arch = strategy.ask().arch
        exhausted = current is not None and len(seen) == len(space.neighbors(current[0]))
        is_start = current is None or exhausted
        if is_start and current is not None:
            # a restart happens only at a local optimum
            assert max(seen.values()) <= current[1]
            restarts += 1
        elif current is not None:
            assert hamming(arch, current[0]) == 1
            assert arch not in seen, "a neighbor was proposed twice"
        value = score(arch)
        strategy.tell(Observation(Proposal(arch), value))
        if is_start:
            current, seen = (arch, value), {}
            continue
        assert current is not None
        seen[arch] = value
        if first_improvement and value > current[1]:
            current, seen = (arch, value), {}
            moves += 1
        elif not first_improvement and len(seen) == len(space.neighbors(current[0])):
            best = max(seen, key=seen.__getitem__)
            if seen[best] > current[1]:
                current, seen = (best, seen[best]), {}
                moves += 1
    assert moves >= 3
    assert restarts >= 1


# -- learning sanity ------------------------------------------------------------------------------


def best_after(name: str, seed: int, steps: int = 150, **params: Any) -> float:
    return max(
        score(a) for a in drive(make_strategy(name, NB201Space(), seed=seed, **params), steps)
    )


def test_evolution_and_local_search_beat_random_on_the_synthetic_score() -> None:
    seeds = range(5)
    random_mean = np.mean([best_after("random", s) for s in seeds])
    evolution_mean = np.mean([best_after("evolution", s) for s in seeds])
    local_mean = np.mean([best_after("local", s) for s in seeds])
    assert evolution_mean > random_mean + 0.5
    assert local_mean > random_mean + 0.5


# -- make_strategy errors --------------------------------------------------------------------------


def test_unknown_strategy_names_the_choices(space: NB201Space) -> None:
    with pytest.raises(StrategyError) as info:
        make_strategy("annealing", space)
    message = str(info.value)
    assert "'annealing'" in message
    assert all(name in message for name in STRATEGIES)


@pytest.mark.parametrize(
    ("name", "option", "valid"),
    [
        ("evolution", "popsize", ["crossover_prob", "population_size", "sample_size"]),
        ("local", "population_size", ["first_improvement"]),
        ("optuna", "n_startup", ["sampler"]),
        ("random", "population_size", ["none"]),
        ("tpe", "sampler", ["none"]),
    ],
)
def test_unknown_option_names_the_valid_options(
    space: NB201Space, name: str, option: str, valid: list[str]
) -> None:
    with pytest.raises(StrategyError) as info:
        make_strategy(name, space, **{option: 1})
    message = str(info.value)
    assert f"no option {option}" in message
    assert all(v in message for v in valid)


@pytest.mark.parametrize(
    ("name", "params", "problem"),
    [
        ("evolution", {"population_size": 1}, "population_size >= 2"),
        ("evolution", {"population_size": 0}, "population_size >= 2"),
        ("evolution", {"population_size": 5, "sample_size": 6}, "sample_size <= population_size"),
        ("evolution", {"sample_size": 0}, "1 <= sample_size"),
        ("evolution", {"crossover_prob": 2}, "crossover_prob must lie in [0, 1]"),
        ("evolution", {"crossover_prob": -0.1}, "crossover_prob must lie in [0, 1]"),
        ("optuna", {"sampler": "annealing"}, "unknown Optuna sampler 'annealing'"),
    ],
)
def test_invalid_option_values(
    space: NB201Space, name: str, params: dict[str, Any], problem: str
) -> None:
    with pytest.raises(StrategyError) as info:
        make_strategy(name, space, **params)
    assert problem in str(info.value)
