"""Every one-shot method on a space written with choice primitives (examples/small_cnn.py):
decisions of different sizes, value choices, a repeat whose depth is a choice."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data.loaders import load_task
from nasforge.data.task import Task
from nasforge.oneshot import METHODS, OneShotError, make_method
from nasforge.space.choices.mixed import MixedModule, Zero
from nasforge.space.choices.mode import SuperMode
from nasforge.space.choices.primitives import Choices
from nasforge.space.choices.space import ChoiceSpace
from nasforge.training import TrainerHooks

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"
QUICK = {
    "enas": {"controller_steps": 2, "controller_aggregate": 2, "final_samples": 2},
    "spos": {"population_size": 4, "generations": 2, "sample_size": 2},
}


def small_cnn() -> type[nn.Module]:
    spec = importlib.util.spec_from_file_location("small_cnn_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model: type[nn.Module] = module.SmallCNN
    return model


@pytest.fixture(scope="module")
def task() -> Task:
    digits = load_task("digits")
    return dataclasses.replace(digits, x_train=digits.x_train[:256], y_train=digits.y_train[:256])


@pytest.fixture(scope="module")
def space(task: Task) -> ChoiceSpace:
    return ChoiceSpace(small_cnn(), input_shape=task.input_shape, num_classes=task.num_classes)


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"pc-darts"}))
def test_every_method_searches_the_example_space(name: str, space: ChoiceSpace, task: Task) -> None:
    method = make_method(name, space, **QUICK.get(name, {}))
    result = method.search(task, epochs=2, batch_size=32, seed=0, threads=1)
    assert space.validate(result.arch) == result.arch
    sizes = {d.label: len(d.choices) for d in space.decisions}
    samples_all = name in ("enas", "spos")
    weighted = [d.label for d in space.decisions if samples_all or d.kind == "module"]
    assert list(result.alpha) == weighted
    assert all(result.alpha[label].shape == (sizes[label],) for label in weighted)
    d = result.diagnostics
    assert d.labels == tuple(weighted) and d.points == 2
    assert all(d.weights[label].shape == (2, sizes[label]) for label in weighted)
    assert np.isnan(d.skip_share).all()  # no decision offers skip_connect
    assert (d.entropy <= math.log(3) + 1e-9).all()
    child = result.child(task.x_train[:64], batch_size=32)
    x = torch.tensor(task.x_test[:8])
    assert child.eval()(x).shape == (8, task.num_classes)
    for tensor in child.state_dict().values():
        assert torch.isfinite(tensor.float()).all()


def test_path_methods_search_value_choices_and_gradient_methods_keep_the_largest(
    space: ChoiceSpace, task: Task
) -> None:
    darts = make_method("darts", space).search(task, epochs=1, batch_size=32, seed=0, threads=1)
    assert darts.arch["width"] == 32 and darts.arch["depth"] == 3
    values = {d.label for d in space.decisions if d.kind in ("value", "repeat")}
    assert set(darts.not_searched) == values, "the result says what darts left unsearched"
    spos = make_method("spos", space, population_size=8, generations=2, sample_size=2)
    spos_result = spos.search(task, epochs=1, batch_size=32, seed=0, threads=1)
    assert set(spos_result.arch) <= {d.label for d in space.decisions}
    assert spos_result.not_searched == ()


def test_exclude_ops_names_candidates_of_the_weighted_decisions(
    space: ChoiceSpace, task: Task
) -> None:
    result = make_method("darts", space, exclude_ops="sep").search(
        task, epochs=1, batch_size=32, seed=0, threads=1
    )
    assert all(result.arch[f"op_{i}"] == "conv" for i in range(3))
    with pytest.raises(OneShotError, match="cannot exclude 'none'"):
        make_method("darts", space, exclude_ops="none").search(task, epochs=1, batch_size=32)
    with pytest.raises(OneShotError, match="no choice of 'op_0' would be left"):
        make_method("gdas", space, exclude_ops=("conv", "sep")).search(
            task, epochs=1, batch_size=32
        )


def test_partial_channels_need_a_module_choice_that_allows_them(
    space: ChoiceSpace, task: Task
) -> None:
    with pytest.raises(OneShotError, match="no module choice with partial=True"):
        make_method("darts", space, partial_channels=2).search(task, epochs=1, batch_size=32)


# -- the generic speed tricks ----------------------------------------------------------------


class Fan(nn.Module):
    """Two module choices fed by one tensor: their ReLU-first candidates share one ReLU."""

    def __init__(self, choices: Choices) -> None:
        super().__init__()

        def candidates() -> dict[str, object]:
            return {
                "conv": lambda: nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1)),
                "pool": lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                "zero": Zero,
            }

        self.a = choices.choose_module("a", candidates())  # type: ignore[arg-type]
        self.b = choices.choose_module("b", candidates())  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.b(x)  # type: ignore[no-any-return]


def test_mixed_modules_share_relus_skip_zeros_and_pool_as_a_box_filter() -> None:
    space = ChoiceSpace(Fan, input_shape=(2, 5, 5))
    net = space.supernet()
    relus = []
    original = torch.relu

    def counting(x: torch.Tensor) -> torch.Tensor:
        relus.append(1)
        return original(x)

    x = torch.randn(3, 2, 5, 5)
    weights = {"a": torch.tensor([0.5, 0.3, 0.2]), "b": torch.tensor([0.1, 0.6, 0.3])}
    net.use_weights(weights)
    torch.relu = counting  # type: ignore[assignment]
    try:
        out = net(x)
    finally:
        torch.relu = original  # type: ignore[assignment]
    assert len(relus) == 1  # one ReLU of x for both choices' convolutions
    expected = torch.zeros_like(x)
    for label, mixed in (("a", net.net.a), ("b", net.net.b)):
        assert isinstance(mixed, MixedModule)
        for index, name in enumerate(mixed.names):
            expected = expected + weights[label][index] * mixed.candidates[name](x)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    alone = MixedModule("z", {"zero": Zero()}, SuperMode(path={"z": 0}))
    assert torch.equal(alone(x), torch.zeros_like(x))


def test_recalibrated_statistics_of_a_smaller_path_are_its_childs(space: ChoiceSpace) -> None:
    """BatchNorm recalibration (a cumulative average: momentum None) reaches the layers of a
    path at smaller values too, which run as a structure on the supernet's sliced tensors."""
    from nasforge.oneshot import recalibrate_batchnorm

    torch.manual_seed(0)
    net = space.supernet()
    arch = space.resolve({"width": 16, "depth": 2, "kernel_0": 3, "kernel_1": 5})
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(8, *space.input_shape, generator=generator) for _ in range(3)]
    net.use_path(arch)
    assert recalibrate_batchnorm(net, batches) == 3
    child = net.child(arch)
    recalibrate_batchnorm(child, batches)
    for name, buffer in child.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            inherited = net.child(arch).get_buffer(name)
            torch.testing.assert_close(inherited, buffer, rtol=1e-4, atol=1e-5)


def test_pc_darts_refuses_a_space_without_partial_channel_choices(
    space: ChoiceSpace, task: Task
) -> None:
    """The example asks its module choices without partial=True: PC-DARTS says so rather
    than running as plain DARTS."""
    with pytest.raises(OneShotError, match="does not support partial channels"):
        make_method("pc-darts", space).search(task, epochs=1, batch_size=32, seed=0, threads=1)


class _ValuesPerStep(TrainerHooks):
    """The value choices of every forward pass of a supernet during the weight steps."""

    def __init__(self) -> None:
        self.steps: list[list[dict[str, object]]] = []
        self.in_step = False

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        self.steps.append([])
        self.in_step = True

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.in_step = False

    def hook(self, supernet: nn.Module, args: object) -> None:
        if self.in_step:
            self.steps[-1].append(dict(supernet.current_values()))  # type: ignore[operator]


def test_sandwich_trains_the_largest_the_smallest_and_random_paths_each_step(
    space: ChoiceSpace, task: Task
) -> None:
    method = make_method("spos", space, sampling="sandwich", sandwich_random=1, **QUICK["spos"])
    values = _ValuesPerStep()
    original = method.build_supernet

    def build(*args: object, **kwargs: object) -> nn.Module:
        supernet = original(*args, **kwargs)  # type: ignore[arg-type]
        supernet.register_forward_pre_hook(values.hook)
        return supernet

    method.build_supernet = build  # type: ignore[method-assign]
    result = method.search(task, epochs=1, batch_size=32, seed=0, threads=1, hooks=[values])
    assert space.validate(result.arch) == result.arch
    decisions = {d.label: d.choices for d in space.decisions if d.kind in ("value", "repeat")}
    largest = {label: max(c) for label, c in decisions.items()}  # type: ignore[type-var]
    smallest = {label: min(c) for label, c in decisions.items()}  # type: ignore[type-var]
    assert len(values.steps) == result.report.steps >= 3
    for passes in values.steps:
        # largest, smallest, one uniform path (after the epoch's last step, the method
        # recalibrates BatchNorm for validation before this hook hears the step end)
        assert len(passes) == 3 or passes is values.steps[-1]
        assert {k: passes[0][k] for k in largest} == largest
        assert {k: passes[1][k] for k in smallest} == smallest


def test_an_unknown_sampling_rule_is_refused(space: ChoiceSpace) -> None:
    with pytest.raises(OneShotError, match="sampling must be one of uniform, sandwich"):
        make_method("spos", space, sampling="sometimes")


def small_cnn_with_pooling(folder: Path) -> type[nn.Module]:
    """A copy of examples/small_cnn.py with a value choice of strings: pool mean or max."""
    source = EXAMPLE.read_text()
    head = "        self.head = nn.Linear(width, num_classes)\n"
    call = "        out: torch.Tensor = self.head(self.blocks(self.stem(x)).mean((2, 3)))\n"
    assert head in source and call in source, "examples/small_cnn.py changed: update this copy"
    source = source.replace(
        head, head + '        self.pool = choices.choose_value("pool", ["mean", "max"])\n'
    ).replace(
        call,
        "        features = self.blocks(self.stem(x))\n"
        '        pooled = features.mean((2, 3)) if self.pool == "mean" else features.amax((2, 3))\n'
        "        out: torch.Tensor = self.head(pooled)\n",
    )
    copy = folder / "small_cnn_pooling.py"
    copy.write_text(source)
    spec = importlib.util.spec_from_file_location("small_cnn_pooling", copy)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model: type[nn.Module] = module.SmallCNN
    return model


@pytest.mark.parametrize("name", ["spos", "enas", "darts"])
def test_a_value_choice_of_strings_is_sampled_or_left_at_its_first_value(
    name: str, task: Task, tmp_path: Path
) -> None:
    space = ChoiceSpace(
        small_cnn_with_pooling(tmp_path),
        input_shape=task.input_shape,
        num_classes=task.num_classes,
    )
    assert {"pool": ("mean", "max")}.items() <= {
        d.label: d.choices for d in space.decisions
    }.items()
    method = make_method(name, space, **QUICK.get(name, {}))
    result = method.search(task, epochs=1, batch_size=32, seed=0, threads=1)
    assert result.arch["pool"] in ("mean", "max")
    if name == "darts":  # a gradient method: the first value, said as not searched
        assert result.arch["pool"] == "mean" and "pool" in result.not_searched
    else:  # a sampling method: a decision like any other
        assert "pool" in result.alpha and "pool" not in result.not_searched
    supernet = result.supernet
    x = torch.tensor(task.x_test[:4])
    outputs = {}
    for index, value in enumerate(("mean", "max")):
        supernet.use_path({**supernet.path_of(result.arch), "pool": index})
        assert supernet.current_values()["pool"] == value
        outputs[value] = supernet.eval()(x)
    assert not torch.allclose(outputs["mean"], outputs["max"])
    child = result.child(task.x_train[:64], batch_size=32)
    assert child.eval()(x).shape == (4, task.num_classes)
