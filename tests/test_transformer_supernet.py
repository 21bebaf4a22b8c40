"""What the `transformer` supernet trains with (issue 33 item 4): in-place distillation in
SPOS's sandwich steps (BigNAS), AdamW's learning rate annealed, and the weight sharing:
leading heads and widths, LayerNorm over the sub-network's own width."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data.loaders import load_task
from nasforge.data.task import Task
from nasforge.oneshot import OneShotError, make_method
from nasforge.oneshot.distillation import distillation_loss, teacher_probabilities
from nasforge.oneshot.spos import SPOS
from nasforge.space import make_space
from nasforge.space.define_by_run import ChoiceSpace
from nasforge.training import TrainerHooks

QUICK = {"population_size": 4, "generations": 1, "sample_size": 2}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"


def small_cnn() -> type[nn.Module]:
    """examples/small_cnn.py's network: value choices (widths) and a repeat (depth)."""
    spec = importlib.util.spec_from_file_location("small_cnn_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model: type[nn.Module] = module.SmallCNN
    return model


def test_the_distillation_gradient_moves_the_student_towards_the_teacher_only() -> None:
    torch.manual_seed(0)
    teacher_logits = torch.randn(6, 5, requires_grad=True)
    student = torch.randn(6, 5, requires_grad=True)
    teacher = teacher_probabilities(teacher_logits)
    assert not teacher.requires_grad
    torch.testing.assert_close(teacher.sum(1), torch.ones(6))
    distillation_loss(student, teacher).backward()  # type: ignore[no-untyped-call]
    # d/dz of -sum p log softmax(z), averaged over the batch: (softmax(z) - p) / N
    expected = (F.softmax(student.detach(), 1) - teacher) / 6
    assert student.grad is not None
    torch.testing.assert_close(student.grad, expected)
    assert teacher_logits.grad is None  # nothing reaches the teacher through the targets
    # the loss is lowest where the student predicts what the teacher does
    same = distillation_loss(teacher_logits.detach(), teacher)
    assert same < distillation_loss(student.detach(), teacher)


class _Passes(TrainerHooks):
    """The logits of every supernet pass within each training step."""

    def __init__(self) -> None:
        self.steps: list[list[torch.Tensor]] = []
        self.in_step = False

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        self.steps.append([])
        self.in_step = True

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.in_step = False

    def hook(self, module: nn.Module, args: object, output: torch.Tensor) -> None:
        if self.in_step:
            self.steps[-1].append(output.detach().clone())


@pytest.fixture(scope="module")
def task() -> Task:
    digits = load_task("digits")
    return dataclasses.replace(digits, x_train=digits.x_train[:192], y_train=digits.y_train[:192])


@pytest.mark.parametrize("distill", [True, False])
def test_smaller_paths_learn_from_the_largest_paths_detached_probabilities(
    task: Task, distill: bool
) -> None:
    space = ChoiceSpace(small_cnn(), input_shape=task.input_shape, num_classes=task.num_classes)
    method = make_method(
        "spos", space, sampling="sandwich", sandwich_random=1, distill=distill, **QUICK
    )
    assert isinstance(method, SPOS)
    passes = _Passes()
    losses: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
    original_build, original_loss = method.build_supernet, method.path_loss

    def build(*args: Any, **kwargs: Any) -> nn.Module:
        supernet = original_build(*args, **kwargs)
        supernet.register_forward_hook(passes.hook)
        return supernet

    def path_loss(logits: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None) -> Any:
        losses.append((logits.detach().clone(), y, teacher))
        return original_loss(logits, y, teacher)

    method.build_supernet = build  # type: ignore[method-assign]
    method.path_loss = path_loss  # type: ignore[method-assign]
    result = method.search(task, epochs=1, batch_size=32, seed=0, threads=1, hooks=[passes])
    assert result.report.steps == len(losses) // 2 >= 4
    for step, passes_of_step in enumerate(passes.steps):
        largest, *smaller = passes_of_step[:3]
        for logits, (seen, _, teacher) in zip(
            smaller, losses[2 * step : 2 * step + 2], strict=True
        ):
            torch.testing.assert_close(seen, logits)
            if not distill:
                assert teacher is None
                continue
            assert teacher is not None and not teacher.requires_grad
            torch.testing.assert_close(teacher, F.softmax(largest, dim=1))


def test_distillation_needs_sandwich_sampling() -> None:
    space = make_space("transformer", vocab_size=30)
    with pytest.raises(OneShotError, match="distill needs sampling='sandwich'"):
        make_method("spos", space, distill=True)


def test_fewer_heads_and_a_narrower_embedding_use_the_leading_weights() -> None:
    space = make_space("transformer", vocab_size=50, embed_dims=(32, 64), heads=(2, 4))
    torch.manual_seed(0)
    supernet = space.supernet((10,), 4)
    arch = space.validate(
        space.sample(np.random.default_rng(0)).replace(embed_dim=32, depth=1, layer0_heads=2)
    )
    child = supernet.child(arch)
    big = supernet.net.layers[0]
    small = child.layers[0]
    width = 2 * space.head_dim
    torch.testing.assert_close(small.query.weight, big.query.weight[:width, :32])
    torch.testing.assert_close(small.out.weight, big.out.weight[:32, :width])
    torch.testing.assert_close(small.norm1.weight, big.norm1.weight[:32])


def test_a_sliced_layernorm_normalizes_over_the_sub_networks_width_only() -> None:
    space = make_space("transformer", vocab_size=50, embed_dims=(32, 64))
    torch.manual_seed(0)
    supernet = space.supernet((10,), 4).eval()
    with torch.no_grad():  # LayerNorm weights and biases away from 1 and 0
        for name, tensor in supernet.net.named_parameters():
            if "norm" in name:
                tensor.uniform_(0.5, 1.5)
    arch = space.validate(space.sample(np.random.default_rng(0)).replace(embed_dim=32))
    supernet.use_path(arch)
    values = supernet.current_values()
    structure = supernet.structure(values)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    handle = structure.norm.register_forward_hook(
        lambda module, args, output: seen.append((args[0], output))
    )
    try:
        supernet(torch.randint(1, 50, (3, 10)).float())
    finally:
        handle.remove()
    ((inputs, output),) = seen
    assert inputs.shape[-1] == output.shape[-1] == 32
    weight, bias = supernet.net.norm.weight[:32], supernet.net.norm.bias[:32]
    normalized = (output - bias) / weight
    # zero mean and unit variance over the 32 channels of the sub-network, not the 64
    torch.testing.assert_close(normalized.mean(-1), torch.zeros(3, 10), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        normalized.var(-1, unbiased=False), torch.ones(3, 10), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(output, F.layer_norm(inputs, (32,), weight, bias))


@pytest.mark.parametrize(("optimizer", "lr", "end"), [("adamw", 5e-4, 5e-6), ("sgd", 0.025, 1e-3)])
def test_the_supernets_learning_rate_is_annealed_by_default(
    task: Task, optimizer: str, lr: float, end: float
) -> None:
    # AdamW at 1e-3 used to end at eta_min 0.001 (constant), and below it was refused
    space = ChoiceSpace(small_cnn(), input_shape=task.input_shape, num_classes=task.num_classes)
    seen: list[float] = []

    class Rates(TrainerHooks):
        def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
            assert method.trainer_.optimizer is not None
            seen.append(method.trainer_.optimizer.param_groups[0]["lr"])

    method = make_method("spos", space, optimizer=optimizer, lr=lr, **QUICK)
    method.search(task, epochs=2, batch_size=32, seed=0, threads=1, hooks=[Rates()])
    assert seen[0] < lr and seen == sorted(seen, reverse=True)
    assert seen[-1] == pytest.approx(end)


def test_distillation_without_sandwich_is_one_line_and_exit_2() -> None:
    from typer.testing import CliRunner

    from nasforge.cli import app

    result = CliRunner().invoke(app, ["oneshot", "--method", "spos", "-o", "distill=true"])
    assert result.exit_code == 2, result.output
    assert "spos distill needs sampling='sandwich'" in result.output
    assert len(result.output.strip().splitlines()) == 1
