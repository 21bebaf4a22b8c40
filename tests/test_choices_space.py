"""Spaces written with the choice primitives: decisions, conditional sampling, children that
equal hand-written modules, supernets whose one-hot output equals the child's, bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import load_small_cnn
from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision
from nasforge.space.choices.inputs import ChosenInputs
from nasforge.space.choices.primitives import Choices
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.choices.supernet import ChoiceSuperNet, slice_to
from nasforge.strategy import Observation, make_strategy

SmallCNN = load_small_cnn()
SHAPE = (3, 8, 8)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def cnn() -> ChoiceSpace:
    return ChoiceSpace(SmallCNN, input_shape=SHAPE)


# -- spaces used by the tests ----------------------------------------------------------------


class HandBlock(nn.Module):
    def __init__(self, width: int, kernel: int, op: str, skip: bool) -> None:
        super().__init__()
        conv = nn.Conv2d(width, width, kernel, padding=kernel // 2, bias=False)
        if op == "sep":
            conv = nn.Conv2d(width, width, kernel, padding=kernel // 2, groups=width, bias=False)
            self.op: nn.Module = nn.Sequential(conv, nn.Conv2d(width, width, 1))
        else:
            self.op = conv
        self.bn = nn.BatchNorm2d(width)
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.op(x)))
        return out + x if self.skip else out


class HandCNN(nn.Module):
    """The example space's network for one arch, written by hand."""

    def __init__(self, arch: Arch, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        width = int(arch["width"])
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.blocks = nn.Sequential(
            *(
                HandBlock(
                    width, int(arch[f"kernel_{i}"]), str(arch[f"op_{i}"]), bool(arch[f"skip_{i}"])
                )
                for i in range(int(arch["depth"]))
            )
        )
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.blocks(self.stem(x)).mean((2, 3)))
        return out


class Cell(nn.Module):
    """A tiny cell: two op choices on a chain, node 2 takes 1 of 2 inputs, the output the mean
    of 2 of 3 nodes; the op of edge ``b`` is shared with edge ``a`` through its label."""

    def __init__(self, choices: Choices, input_shape: tuple[int, ...] = (4,)) -> None:
        super().__init__()
        width = input_shape[0]
        ops: dict[str, Callable[[], nn.Module]] = {
            "linear": lambda: nn.Linear(width, width),
            "tanh": nn.Tanh,
        }
        self.a = choices.choose_module("op", ops)
        self.b = choices.choose_module("op", ops)
        self.c = choices.choose_module("op_c", {"linear": lambda: nn.Linear(width, width)})
        self.into_2 = choices.choose_inputs("in_2", 2)
        self.out = choices.choose_inputs("out", 3, k=2, reduction="mean")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n1 = self.a(x)
        n2 = self.b(self.into_2([x, n1]))
        out: torch.Tensor = self.out([x, n1, self.c(n2)])
        return out


class HandCell(nn.Module):
    """`Cell` at ``op=linear,op_c=linear,in_2=1,out="0+2"``, by hand."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, width)
        self.c = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n2 = self.b(self.a(x))
        out: torch.Tensor = (x + self.c(n2)) / 2
        return out


class Pooled(nn.Module):
    """A conditional decision in plain Python: ``pool_k`` exists only when ``pool`` is max."""

    def __init__(self, choices: Choices) -> None:
        super().__init__()
        pool = choices.choose_value("pool", ["none", "max"])
        self.pool: nn.Module = nn.Identity()
        if pool == "max":
            self.pool = nn.MaxPool1d(choices.choose_value("pool_k", [2, 3]))
        self.act = choices.choose_value("act", ["relu", "tanh"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pool(x)
        return out


def one_hot_weights(space: ChoiceSpace, arch: Arch) -> dict[str, torch.Tensor]:
    weights = {}
    for decision in space.decisions:
        vector = torch.zeros(len(decision.choices))
        vector[decision.index(arch[decision.label]) if decision.label in arch else 0] = 1.0
        weights[decision.label] = vector
    return weights


def copy_params(net: nn.Module, seed: int) -> None:
    """Random values in every parameter and BatchNorm statistic (not the init's)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(noise + 0.5 if "running_var" in name else noise - 0.5)


# -- decisions -------------------------------------------------------------------------------


def test_decisions_of_the_example(cnn: ChoiceSpace) -> None:
    assert [d.label for d in cnn.decisions] == [
        "width",
        "depth",
        "kernel_0",
        "op_0",
        "skip_0",
        "kernel_1",
        "op_1",
        "skip_1",
        "kernel_2",
        "op_2",
        "skip_2",
    ]
    conditional = {d.label for d in cnn.decisions if d.conditional}
    assert conditional == {f"{kind}_{i}" for kind in ("kernel", "op", "skip") for i in (1, 2)}
    archs = list(cnn.enumerate())
    assert len(set(archs)) == len(archs) == 2 * (8 + 8**2 + 8**3)
    assert cnn.size() == len(archs)  # counted by the enumeration above


def test_same_decisions_samples_and_encodings_on_every_call() -> None:
    first, second = ChoiceSpace(SmallCNN), ChoiceSpace(SmallCNN)
    assert first.decisions == second.decisions
    a = [first.sample(np.random.default_rng(3)) for _ in range(2)]
    b = [second.sample(np.random.default_rng(3)) for _ in range(2)]
    assert a == b
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    assert [first.sample(rng_a) for _ in range(20)] == [second.sample(rng_b) for _ in range(20)]
    for arch in a:
        assert np.array_equal(first.encode(arch), second.encode(arch))
        assert len(first.encode(arch)) == sum(len(d.choices) for d in first.decisions)


def test_shared_label_is_one_decision() -> None:
    space = ChoiceSpace(Cell, input_shape=(4,))
    assert [d.label for d in space.decisions] == ["op", "op_c", "in_2", "out"]
    assert space.decisions[3].choices == ("0+1", "0+2", "1+2")
    child = space.build(Arch({"op": "linear", "op_c": "linear", "in_2": 0, "out": "0+1"}))
    assert isinstance(child.a, nn.Linear) and isinstance(child.b, nn.Linear)
    child = space.build(Arch({"op": "tanh", "op_c": "linear", "in_2": 0, "out": "0+1"}))
    assert isinstance(child.a, nn.Tanh) and isinstance(child.b, nn.Tanh)


# -- conditional decisions ---------------------------------------------------------------------


def active_labels(space: ChoiceSpace, arch: Arch) -> set[str]:
    """The labels a build of ``arch`` asks for."""
    return set(space.build_with_record(arch)[1].asked)


@pytest.mark.parametrize("model", [SmallCNN, Pooled])
def test_conditional_decisions_never_inactive_always_active(model: type[nn.Module]) -> None:
    space = ChoiceSpace(model)
    assert space.conditional
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(30)]
    archs += [space.mutate(a, rng) for a in archs]
    archs += [space.crossover(a, b, rng) for a, b in zip(archs, archs[::-1], strict=True)]
    archs += [n for a in archs[:5] for n in space.neighbors(a)]
    for arch in archs:
        assert set(arch) == active_labels(space, arch), arch
        assert space.validate(arch) == arch
        assert space.parse(str(arch)) == arch
    depths = {int(a["depth"]) for a in archs if "depth" in a}
    assert depths in (set(), {1, 2, 3})


def test_conditional_plain_python_branch() -> None:
    space = ChoiceSpace(Pooled)
    assert [(d.label, d.conditional) for d in space.decisions] == [
        ("pool", False),
        ("pool_k", True),
        ("act", False),
    ]
    assert sorted(map(str, space.enumerate())) == sorted(
        ["pool=none,act=relu", "pool=none,act=tanh"]
        + [f"pool=max,pool_k={k},act={a}" for k in (2, 3) for a in ("relu", "tanh")]
    )
    arch = Arch({"pool": "max", "pool_k": 3, "act": "relu"})
    assert space.encode(Arch({"pool": "none", "act": "relu"})).tolist() == [1, 0, 0, 0, 1, 0]
    neighbors = space.neighbors(arch)
    assert Arch({"pool": "none", "act": "relu"}) in neighbors


def test_mutation_activates_and_drops_decisions(cnn: ChoiceSpace) -> None:
    rng = np.random.default_rng(1)
    arch = cnn.sample(rng)
    seen_depths = set()
    for _ in range(60):
        arch = cnn.mutate(arch, rng)
        seen_depths.add(int(arch["depth"]))
        depth = int(arch["depth"])
        assert all(f"kernel_{i}" in arch for i in range(depth))
        assert not any(f"kernel_{i}" in arch for i in range(depth, 3))
    assert seen_depths == {1, 2, 3}


def test_resolve_turns_a_full_assignment_into_an_arch(cnn: ChoiceSpace) -> None:
    full = {d.label: d.choices[-1] for d in cnn.decisions}
    assert cnn.resolve({**full, "depth": 1}) == Arch(
        {"width": 32, "depth": 1, "kernel_0": 5, "op_0": "sep", "skip_0": True}
    )
    assert cnn.resolve({"depth": 2})["op_1"] == "conv"
    with pytest.raises(ArchError, match="4 is not a choice of 'kernel_0'"):
        cnn.resolve({"kernel_0": 4})
    arch = cnn.resolve({"depth": 1})
    assert cnn.resolve(cnn.complete(arch)) == arch
    assert len(cnn.complete(arch)) == len(cnn.decisions)
    asked: list[str] = []

    def answer(decision: Decision) -> Choice:
        asked.append(decision.label)
        return decision.choices[-1] if decision.label == "depth" else decision.choices[0]

    assert len(cnn.sample_with(answer)) == 2 + 3 * 3
    assert asked[:3] == ["width", "depth", "kernel_0"]


def test_inactive_or_missing_decisions_are_refused(cnn: ChoiceSpace) -> None:
    good = Arch({"width": 16, "depth": 1, "kernel_0": 3, "op_0": "conv", "skip_0": False})
    assert cnn.validate(good) == good
    with pytest.raises(ArchError, match="inactive kernel_1"):
        cnn.validate(Arch({**good, "kernel_1": 3}))
    with pytest.raises(ArchError, match="missing active kernel_1, op_1, skip_1"):
        cnn.validate(good.replace(depth=2))
    with pytest.raises(ArchError, match="unknown nope"):
        cnn.validate(Arch({**good, "nope": 1}))


# -- children --------------------------------------------------------------------------------


def test_child_equals_hand_written_module(cnn: ChoiceSpace) -> None:
    rng = np.random.default_rng(2)
    x = torch.randn(3, *SHAPE)
    for seed in range(4):
        arch = cnn.sample(rng)
        child = cnn.build(arch, SHAPE, 10)
        hand = HandCNN(arch)
        copy_params(child, seed)
        hand.load_state_dict(child.state_dict())
        child.eval(), hand.eval()
        assert torch.equal(child(x), hand(x)), arch
        assert not any(isinstance(m, Choices) for m in vars(child).values())


def test_cell_child_equals_hand_written_module() -> None:
    space = ChoiceSpace(Cell, input_shape=(4,))
    child = space.build(Arch({"op": "linear", "op_c": "linear", "in_2": 1, "out": "0+2"}))
    hand = HandCell()
    hand.load_state_dict(child.state_dict())
    x = torch.randn(5, 4)
    assert torch.allclose(child(x), hand(x))
    assert [type(m) for m in child.modules()].count(ChosenInputs) == 2


# -- supernets -------------------------------------------------------------------------------


def test_one_hot_supernet_equals_child_for_module_value_and_repeat(cnn: ChoiceSpace) -> None:
    torch.manual_seed(0)
    supernet = cnn.supernet(SHAPE, 10)
    assert isinstance(supernet, ChoiceSuperNet)
    copy_params(supernet, 0)
    x = torch.randn(3, *SHAPE)
    rng = np.random.default_rng(4)
    for train in (False, True):
        for _ in range(4):
            arch = cnn.sample(rng)
            child = supernet.child(arch).train(train)
            supernet.train(train)
            with torch.no_grad():
                expected = child(x)
                supernet.use_path(arch)
                assert torch.equal(supernet(x), expected), arch
                supernet.use_weights(one_hot_weights(cnn, arch))
                assert torch.equal(supernet(x), expected), arch


def test_one_hot_supernet_equals_child_for_input_choices() -> None:
    space = ChoiceSpace(Cell, input_shape=(4,))
    supernet = space.supernet()
    x = torch.randn(5, 4)
    for arch in space.enumerate():
        expected = supernet.child(arch)(x)
        supernet.use_path(arch)
        assert torch.allclose(supernet(x), expected)
        supernet.use_weights(one_hot_weights(space, arch))
        assert torch.allclose(supernet(x), expected)


def test_mixed_weights_and_gdas_gradients_reach_alpha() -> None:
    space = ChoiceSpace(Cell, input_shape=(4,))
    supernet = space.supernet()
    alpha = {label: torch.zeros(n, requires_grad=True) for label, n in supernet.num_choices.items()}
    x = torch.randn(5, 4)
    supernet.use_weights({k: torch.softmax(v, -1) for k, v in alpha.items()})
    supernet(x).sum().backward()
    assert all(alpha[label].grad is not None for label in ("op", "in_2", "out"))
    # GDAS: a path scaled by hard one-hot weights (value 1, the soft sample's gradient)
    soft = {k: torch.softmax(v, -1) for k, v in alpha.items()}
    hard = {
        k: torch.zeros_like(s).scatter_(0, torch.tensor([0]), 1.0) - s.detach() + s
        for k, s in soft.items()
    }
    arch = supernet.arch_of({label: 0 for label in alpha})
    supernet.use_path(arch, weights=hard)
    assert torch.allclose(supernet(x), supernet.child(arch)(x))
    assert supernet.argmax_arch({k: v.detach() for k, v in alpha.items()}) == arch
    with pytest.raises(ArchError, match="weights are missing for op_c, in_2, out"):
        supernet.use_weights({"op": torch.ones(2)})


def test_value_choices_share_the_largest_weights(cnn: ChoiceSpace) -> None:
    supernet = cnn.supernet(SHAPE, 10)
    small = Arch({"width": 16, "depth": 1, "kernel_0": 3, "op_0": "conv", "skip_0": False})
    supernet.use_path(small)
    logits: torch.Tensor = supernet(torch.randn(2, *SHAPE))
    torch.autograd.backward(F.cross_entropy(logits, torch.tensor([0, 1])))

    def conv_weight(block: int) -> torch.Tensor:
        conv = supernet.net.get_submodule(f"blocks.{block}.op.candidates.conv")
        return cast(torch.Tensor, conv.weight)

    grad = conv_weight(0).grad
    assert grad is not None and grad.shape == (32, 32, 5, 5)
    assert grad[:16, :16, 1:4, 1:4].abs().sum() > 0
    assert grad[16:].abs().sum() == 0 and grad[:, :, 0].abs().sum() == 0
    assert conv_weight(2).grad is None
    assert slice_to(torch.arange(25.0).view(1, 1, 5, 5), (1, 1, 3, 3))[0, 0, 0].tolist() == [
        6.0,
        7.0,
        8.0,
    ]


# -- bad input -------------------------------------------------------------------------------


class NoChoices(nn.Module):
    def __init__(self, choices: Choices) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)


class TwoCandidateLists(nn.Module):
    def __init__(self, choices: Choices) -> None:
        super().__init__()
        self.a = choices.choose_value("width", [8, 16])
        self.b = choices.choose_value("width", [8, 32])


class NeverHolds(nn.Module):
    def __init__(self, choices: Choices) -> None:
        super().__init__()
        choices.choose_value("depth", [1, 2])
        if choices.when("depth", 3):
            choices.choose_value("kernel", [3, 5])


class ModuleNotFactory(nn.Module):
    def __init__(self, choices: Choices) -> None:
        super().__init__()
        self.op = choices.choose_module("op", {"a": nn.Identity(), "b": nn.Identity()})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (NoChoices, "space 'NoChoices': NoChoices asks for no choices"),
        (TwoCandidateLists, "label 'width' is used for two different choices"),
        (NeverHolds, r"condition 'depth' in \[3\] never holds: its choices are \[1, 2\]"),
        (ModuleNotFactory, "candidate 'a' must be a factory"),
    ],
)
def test_bad_spaces_are_one_line_errors(model: type[nn.Module], message: str) -> None:
    with pytest.raises(SpaceError, match=message) as info:
        ChoiceSpace(model)
    assert "\n" not in str(info.value)


def test_string_value_choice_is_a_category_of_the_supernet_and_bad_shape_is_named() -> None:
    supernet = ChoiceSpace(Pooled).supernet()
    assert supernet.largest_values["pool"] == "none"  # built at the first string
    x = torch.arange(12.0).reshape(1, 2, 6)
    assert torch.equal(supernet(x), x)
    supernet.use_path({"pool": 1, "pool_k": 0, "act": 0})
    assert supernet.current_values()["pool"] == "max"
    assert torch.equal(supernet(x), nn.functional.max_pool1d(x, 2))
    assert supernet.arch_of({"pool": 1, "pool_k": 0})["pool"] == "max"
    with pytest.raises(SpaceError, match=r"space 'SmallCNN' does not run on input shape \(3,\)"):
        ChoiceSpace(SmallCNN).check_input((3,))
    ChoiceSpace(SmallCNN).check_input((1, 8, 8))


# -- strategies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "random",
        "grid",
        "evolution",
        "local",
        "nsga2",
        "hyperband",
        "reinforce",
    ],
)
def test_strategies_propose_archs_of_a_conditional_space(cnn: ChoiceSpace, name: str) -> None:
    strategy = make_strategy(name, cnn, seed=0)
    for _ in range(15):
        proposal = strategy.ask()
        arch = proposal.arch
        assert cnn.validate(arch) == arch
        strategy.tell(Observation(proposal, float(arch["width"]) + float(arch["depth"])))
