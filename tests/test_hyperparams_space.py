"""`WithHyperparameters`: hyperparameters as decisions beside the architecture."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.space import MLPSpace, NB201Space, WithHyperparameters, hyperparameters_of, make_space

CELL = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, above all on a shared, busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def space() -> WithHyperparameters:
    return WithHyperparameters(NB201Space(channels=4, cells_per_stage=1))


def test_decisions_are_inner_then_hyperparameters(space: WithHyperparameters) -> None:
    labels = [d.label for d in space.decisions]
    inner = [d.label for d in space.space.decisions]
    assert labels == [*inner, "hp.lr", "hp.weight_decay", "hp.batch_size"]
    assert space.decisions[-3].choices == (0.01, 0.05, 0.1)
    assert space.decisions[-1].choices == (32, 64, 128)
    assert space.name == "nb201"
    assert space.size() == 5**6 * 3 * 2 * 3


def test_empty_or_none_leaves_a_hyperparameter_out() -> None:
    space = WithHyperparameters(MLPSpace(max_layers=1), lr=(0.1,), weight_decay=(), batch_size=None)
    assert [d.label for d in space.decisions][-1] == "hp.lr"
    assert space.config()["hyperparameters"] == {"lr": [0.1]}


def test_split_and_hyperparameters_of(space: WithHyperparameters) -> None:
    inner = space.space.parse(CELL)
    arch = Arch({**inner, "hp.lr": 0.05, "hp.weight_decay": 0.0005, "hp.batch_size": 64})
    got_inner, hyperparameters = space.split(arch)
    assert got_inner == inner
    assert hyperparameters == {"lr": 0.05, "weight_decay": 0.0005, "batch_size": 64}
    assert isinstance(hyperparameters["batch_size"], int)
    assert hyperparameters_of(space, arch) == hyperparameters
    assert hyperparameters_of(space.space, inner) == {}
    assert space.join(inner, hyperparameters) == arch
    with pytest.raises(ArchError):
        space.split(inner)  # the hyperparameters are missing


def test_canonical_is_inner_canonical_with_the_same_hyperparameters(
    space: WithHyperparameters,
) -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        arch = space.sample(rng)
        inner, hyperparameters = space.split(arch)
        canonical = space.canonical(arch)
        assert space.split(canonical) == (space.space.canonical(inner), hyperparameters)
        assert space.canonical(canonical) == canonical


def test_text_round_trip(space: WithHyperparameters) -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        arch = space.sample(rng)
        text = space.format(arch)
        assert text.startswith("|") and " hp.lr=" in text
        assert space.parse(text) == arch
        assert space.parse(str(arch)) == arch
    text = CELL + " hp.lr=0.1,hp.weight_decay=0.0,hp.batch_size=32"
    assert space.format(space.parse(text)) == text
    with pytest.raises(ArchError):
        space.parse(CELL + " hp.lr=0.2,hp.weight_decay=0.0,hp.batch_size=32")


def test_build_and_check_input_delegate(space: WithHyperparameters) -> None:
    arch = space.sample(np.random.default_rng(3))
    inner, _ = space.split(arch)
    model = space.build(arch, (1, 8, 8), 3)
    reference = space.space.build(inner, (1, 8, 8), 3)
    assert [p.shape for p in model.parameters()] == [p.shape for p in reference.parameters()]
    with pytest.raises(SpaceError, match="nb201"):
        space.check_input((1, 40))


def test_make_space_with_hyperparameters_round_trips_its_config() -> None:
    space = make_space("nb201", hyperparameters={"lr": [0.01, 0.1]}, channels=8)
    assert isinstance(space, WithHyperparameters)
    assert space.name == "nb201"
    assert [d.label for d in space.decisions][-1] == "hp.lr"
    config = space.config()
    assert config == {"channels": 8, "cells_per_stage": 5, "hyperparameters": {"lr": [0.01, 0.1]}}
    rebuilt = make_space(space.name, **config)
    assert isinstance(rebuilt, WithHyperparameters)
    assert rebuilt.config() == config
    assert [d.choices for d in rebuilt.decisions] == [d.choices for d in space.decisions]
    assert not isinstance(make_space("nb201"), WithHyperparameters)


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"lr": [-0.1]},
        {"lr": [0.0]},
        {"lr": [float("nan")]},
        {"weight_decay": [-1e-4]},
        {"batch_size": [0]},
        {"batch_size": [32.5]},
        {"batch_size": [True]},
        {"momentum": [0.9]},
        {"lr": [0.1, 0.1]},
    ],
)
def test_invalid_hyperparameters_are_space_errors(hyperparameters: dict[str, list[float]]) -> None:
    with pytest.raises(SpaceError):
        make_space("mlp", hyperparameters=hyperparameters)


def test_cannot_wrap_twice() -> None:
    with pytest.raises(SpaceError, match="already"):
        WithHyperparameters(WithHyperparameters(MLPSpace()))
