"""`RecordedSpace`: a user's space rebuilt from its recorded description behaves like the
space itself for every operation that reading a store needs, and never builds a network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from nasforge.errors import ArchError, SpaceError
from nasforge.space import make_space
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.recorded import RecordedSpace, derive_conditions, describe_space
from nasforge.space.stored import read_space, space_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"


def _recorded(space: ChoiceSpace) -> RecordedSpace:
    """Through JSON, as a store keeps it."""
    description = json.loads(json.dumps(describe_space(space)))
    return RecordedSpace.from_description(description)


def test_the_example_space_recorded_answers_as_the_space_does() -> None:
    """The example's depth repeat makes kernel_1, op_1, ... conditional: the recorded
    conditions give the same archs, encodings, samples and completions as the space."""
    space = make_space(f"{EXAMPLE}:SmallCNN")
    assert space.conditional
    recorded = _recorded(space)  # type: ignore[arg-type]
    assert recorded.conditions_known
    assert [d.label for d in recorded.decisions] == [d.label for d in space.decisions]
    assert recorded.size() == space.size()
    assert set(recorded.enumerate()) == set(space.enumerate())
    for seed in range(5):
        first, second = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(40):  # the same draws from the same generator
            arch = space.sample(first)
            assert recorded.sample(second) == arch
            assert recorded.validate(arch) == arch
            assert np.array_equal(recorded.encode(arch), space.encode(arch))
            assert recorded.complete(arch) == space.complete(arch)
            assert recorded.resolve(space.complete(arch)) == arch
            assert set(recorded.neighbors(arch)) == set(space.neighbors(arch))


def test_a_recorded_arch_that_does_not_fit_is_refused_as_the_space_refuses_it() -> None:
    space = make_space(f"{EXAMPLE}:SmallCNN")
    recorded = _recorded(space)  # type: ignore[arg-type]
    arch = space.sample(np.random.default_rng(0))
    shallow = {**arch, "depth": 1}
    for bad in (shallow, {**arch, "nope": 1}, {**arch, "width": 7}):
        from nasforge.arch import Arch

        with pytest.raises(ArchError):
            space.validate(Arch(bad))
        with pytest.raises(ArchError):
            recorded.validate(Arch(bad))


def test_a_recorded_space_builds_no_network_and_says_how_to_allow_it() -> None:
    recorded = _recorded(make_space(f"{EXAMPLE}:SmallCNN"))  # type: ignore[arg-type]
    arch = recorded.sample(np.random.default_rng(0))
    with pytest.raises(SpaceError, match="--trust-space-code"):
        recorded.build(arch, (1, 8, 8), 10)


class _EitherActivates(nn.Module):
    """``c`` is asked when ``a`` or ``b`` is 1: no one-parent condition explains it."""

    def __init__(self, choices, input_shape, num_classes) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        a = choices.choose_value("a", [0, 1])
        b = choices.choose_value("b", [0, 1])
        if a or b:
            choices.choose_value("c", [2, 3])
        self.head = nn.Linear(int(np.prod(input_shape)), num_classes)


def test_conditions_no_one_parent_rule_explains_are_recorded_as_unknown() -> None:
    space = ChoiceSpace(_EitherActivates, input_shape=(1, 8, 8))
    assert space.conditional and derive_conditions(space) is None
    description = describe_space(space)
    assert description["conditions"] is None
    recorded = RecordedSpace.from_description(description)
    assert not recorded.conditions_known
    with pytest.raises(SpaceError, match="needs the space's code"):
        recorded.sample(np.random.default_rng(0))


def test_a_built_in_space_is_stored_by_name_and_read_by_name() -> None:
    config = space_config(make_space("nb201", channels=4))
    assert config == {"name": "nb201", "params": make_space("nb201", channels=4).config()}
    assert read_space(config).name == "nb201"


def test_hyperparameters_of_a_user_space_are_read_back_around_the_recorded_space() -> None:
    space = make_space(f"{EXAMPLE}:SmallCNN", {"lr": [0.01, 0.1]})
    read = read_space(json.loads(json.dumps(space_config(space))))
    assert [d.label for d in read.decisions] == [d.label for d in space.decisions]
    arch = space.sample(np.random.default_rng(3))
    assert read.format(arch) == space.format(arch)
    assert read.validate(arch) == arch


def test_a_store_of_an_older_nasforge_without_a_description_is_not_imported() -> None:
    with pytest.raises(SpaceError, match="older nasforge"):
        read_space({"name": f"{EXAMPLE}:SmallCNN", "params": {}})


@pytest.mark.parametrize(
    "description",
    [
        {"name": "x"},
        {"name": "x", "decisions": [{"label": "a"}]},
        {"name": "x", "decisions": [{"label": "a", "choices": [[1, 2]]}]},
        {"name": "x", "decisions": [{"label": "a", "choices": []}]},
    ],
)
def test_a_malformed_description_is_one_clear_error(description: dict[str, object]) -> None:
    with pytest.raises(SpaceError, match="space"):
        RecordedSpace.from_description(description)
