"""Generic `SearchSpace` operations, on a tiny space of 3 decisions with 2, 3 and 4 choices."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.space import SPACES, Decision, NB201Space, SearchSpace, make_space


class TinySpace(SearchSpace):
    """2 x 3 x 4 = 24 archs, with choices of mixed types."""

    name = "tiny"

    def __init__(self) -> None:
        self._decisions = (
            Decision("kernel", (3, 5)),
            Decision("op", ("conv", "pool", "skip")),
            Decision("scale", (0.5, 2, "auto", False)),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        arch = self.validate(arch)
        return nn.Linear(int(arch["kernel"]), 2)


SIZES = (2, 3, 4)
LABELS = ("kernel", "op", "scale")


@pytest.fixture(scope="module")
def space() -> TinySpace:
    return TinySpace()


@pytest.fixture(scope="module")
def all_archs(space: TinySpace) -> list[Arch]:
    return list(space.enumerate())


def hamming(first: Arch, second: Arch) -> int:
    assert list(first) == list(second)
    return sum(Arch({"v": first[k]}) != Arch({"v": second[k]}) for k in first)


def in_space(space: SearchSpace, arch: Arch) -> bool:
    try:
        return space.validate(arch) == arch
    except ArchError:
        return False


# -- size, enumerate, build ------------------------------------------------------------------


def test_size_and_enumerate(space: TinySpace, all_archs: list[Arch]) -> None:
    assert space.size() == 24
    assert len(all_archs) == 24
    assert len(set(all_archs)) == 24
    assert all(list(a) == list(LABELS) and in_space(space, a) for a in all_archs)
    expected = {
        Arch(dict(zip(LABELS, combo, strict=True)))
        for combo in itertools.product(*(d.choices for d in space.decisions))
    }
    assert set(all_archs) == expected


def test_build_returns_a_module(space: TinySpace) -> None:
    net = space.build(Arch({"kernel": 5, "op": "conv", "scale": 2}))
    assert net(torch.zeros(1, 5)).shape == (1, 2)


# -- sample -----------------------------------------------------------------------------------


def test_sample_stays_in_space_and_covers_every_choice(space: TinySpace) -> None:
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(2400)]
    assert all(in_space(space, a) for a in draws)
    for decision in space.decisions:
        counts = Counter(decision.index(a[decision.label]) for a in draws)
        assert sorted(counts) == list(range(len(decision.choices)))
        expected = len(draws) / len(decision.choices)
        assert all(abs(n - expected) < 0.2 * expected for n in counts.values()), counts
    assert len(set(draws)) == 24


def test_same_seed_same_samples_different_seed_different_samples(space: TinySpace) -> None:
    def draw(seed: int) -> list[Arch]:
        rng = np.random.default_rng(seed)
        return [space.sample(rng) for _ in range(30)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


# -- mutate, crossover, neighbors ---------------------------------------------------------------


def test_mutate_changes_exactly_one_decision(space: TinySpace, all_archs: list[Arch]) -> None:
    rng = np.random.default_rng(1)
    changed_labels: Counter[str] = Counter()
    reached: dict[Arch, set[Arch]] = {a: set() for a in all_archs}
    for arch in all_archs:
        for _ in range(40):
            child = space.mutate(arch, rng)
            assert in_space(space, child)
            assert hamming(arch, child) == 1
            changed_labels.update(k for k in LABELS if child[k] != arch[k])
            reached[arch].add(child)
    assert set(changed_labels) == set(LABELS)
    # every neighbor is reachable by one mutation
    assert all(reached[a] == set(space.neighbors(a)) for a in all_archs)


def test_mutate_keeps_type_distinct_choices_apart(space: TinySpace) -> None:
    # False == 0 and 2 == 2.0 in Python; the space must still treat them as its own choices.
    arch = Arch({"kernel": 3, "op": "conv", "scale": False})
    rng = np.random.default_rng(2)
    assert all(hamming(arch, space.mutate(arch, rng)) == 1 for _ in range(100))


def test_crossover_takes_every_decision_from_a_parent(
    space: TinySpace, all_archs: list[Arch]
) -> None:
    rng = np.random.default_rng(3)
    first = Arch({"kernel": 3, "op": "conv", "scale": 0.5})
    second = Arch({"kernel": 5, "op": "skip", "scale": "auto"})
    from_first: Counter[str] = Counter()
    for _ in range(200):
        child = space.crossover(first, second, rng)
        assert in_space(space, child)
        for label in LABELS:
            assert child[label] in (first[label], second[label])
            from_first[label] += child[label] == first[label]
    # each decision comes from either parent, roughly half the time each
    assert all(60 < n < 140 for n in from_first.values()), from_first
    for a, b in itertools.product(all_archs[::5], all_archs[::7]):
        child = space.crossover(a, b, rng)
        assert all(child[k] in (a[k], b[k]) for k in LABELS)
        assert space.crossover(a, a, rng) == a


def test_neighbors_are_all_archs_at_hamming_distance_one(
    space: TinySpace, all_archs: list[Arch]
) -> None:
    for arch in all_archs:
        neighbors = space.neighbors(arch)
        assert len(neighbors) == sum(k - 1 for k in SIZES) == 6
        assert len(set(neighbors)) == len(neighbors)
        assert set(neighbors) == {other for other in all_archs if hamming(arch, other) == 1}


# -- encode -------------------------------------------------------------------------------------


def test_encode_is_one_hot_per_decision(space: TinySpace, all_archs: list[Arch]) -> None:
    for arch in all_archs:
        code = space.encode(arch)
        assert code.shape == (sum(SIZES),)
        assert set(np.unique(code)) <= {0.0, 1.0}
        start = 0
        for decision, size in zip(space.decisions, SIZES, strict=True):
            block = code[start : start + size]
            assert block.sum() == 1
            assert int(np.argmax(block)) == decision.index(arch[decision.label])
            start += size


def test_encode_is_injective(space: TinySpace, all_archs: list[Arch]) -> None:
    codes = {space.encode(a).tobytes() for a in all_archs}
    assert len(codes) == len(all_archs)


def test_encode_rejects_a_choice_outside_the_space(space: TinySpace) -> None:
    with pytest.raises(ArchError, match="not a choice of 'scale'"):
        space.encode(Arch({"kernel": 3, "op": "conv", "scale": 0}))


# -- validate and parse -------------------------------------------------------------------------


def test_validate_accepts_and_reorders(space: TinySpace) -> None:
    shuffled = Arch({"scale": "auto", "kernel": 5, "op": "pool"})
    valid = space.validate(shuffled)
    assert list(valid) == list(LABELS)
    assert valid == Arch({"kernel": 5, "op": "pool", "scale": "auto"})
    assert space.validate(valid) == valid


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        ({"kernel": 3, "op": "conv"}, "missing scale"),
        ({"kernel": 3}, "missing op, scale"),
        ({"kernel": 3, "op": "conv", "scale": 2, "depth": 1}, "unknown depth"),
        ({"kernel": 3, "op": "conv", "depth": 1}, "missing scale; unknown depth"),
        ({"kernel": 4, "op": "conv", "scale": 2}, "4 is not a choice of 'kernel'"),
        ({"kernel": 3, "op": "Conv", "scale": 2}, "'Conv' is not a choice of 'op'"),
        ({"kernel": 3, "op": "conv", "scale": 2.0}, "2.0 is not a choice of 'scale'"),
        ({"kernel": 3, "op": "conv", "scale": 0}, "0 is not a choice of 'scale'"),
        ({"kernel": 3.0, "op": "conv", "scale": 2}, "3.0 is not a choice of 'kernel'"),
        ({"op": "conv", "scale": 2, "kernel": True}, "True is not a choice of 'kernel'"),
    ],
)
def test_validate_rejects(space: TinySpace, choices: dict[str, Any], problem: str) -> None:
    with pytest.raises(ArchError) as info:
        space.validate(Arch(choices))
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_and_format_round_trip(space: TinySpace, all_archs: list[Arch]) -> None:
    for arch in all_archs:
        assert space.parse(space.format(arch)) == arch
    assert space.parse("op=skip,scale=false,kernel=5") == Arch(
        {"kernel": 5, "op": "skip", "scale": False}
    )
    with pytest.raises(ArchError, match="not a choice of 'scale'"):
        space.parse("op=skip,scale=0,kernel=5")


def test_generic_canonical_is_the_arch_itself(space: TinySpace, all_archs: list[Arch]) -> None:
    assert all(space.canonical(a) == a for a in all_archs)


# -- decisions and the registry -------------------------------------------------------------------


def test_decision_rejects_empty_and_repeated_choices() -> None:
    with pytest.raises(SpaceError, match="'d' has no choices"):
        Decision("d", ())
    with pytest.raises(SpaceError, match="'d' lists a choice twice"):
        Decision("d", ("a", "b", "a"))


def test_make_space_unknown_name_names_the_choices() -> None:
    with pytest.raises(SpaceError) as info:
        make_space("nope")
    message = str(info.value)
    assert "'nope'" in message
    assert all(name in message for name in SPACES)
    assert "nb201" in message


def test_make_space_builds_and_config_round_trips() -> None:
    space = make_space("nb201", channels=8, cells_per_stage=2)
    assert isinstance(space, NB201Space)
    assert space.config() == {"channels": 8, "cells_per_stage": 2}
    assert make_space(space.name, **space.config()).config() == space.config()


def test_make_space_unknown_option() -> None:
    with pytest.raises(
        SpaceError,
        match=r"space 'nb201' has no option width; its options: cells_per_stage, channels",
    ):
        make_space("nb201", width=3)


def test_make_space_invalid_option_value_is_a_space_error() -> None:
    with pytest.raises(SpaceError, match="channels"):
        make_space("nb201", channels=0)
