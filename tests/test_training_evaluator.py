"""The training evaluator: real candidates trained on digits, including ones that fail."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.data.loaders import load_digits_task
from nasforge.data.task import Task
from nasforge.errors import ConfigError, SpaceError
from nasforge.evaluate import Status
from nasforge.evaluate.training import TrainingEvaluator, retrain
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.space import make_space
from nasforge.space.base import Decision, SearchSpace
from nasforge.strategy import GridSearch
from nasforge.training import TrainConfig


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task()


class TroubleSpace(SearchSpace):
    """Small MLPs on digits; three of the four kinds build networks that really fail.

    ``broken`` has a classifier whose input size does not match (a shape error at the first
    forward pass); ``exploding`` multiplies the logits by 1e30 so the loss overflows;
    ``slow`` stacks wide layers that cannot finish within a tiny time limit.
    """

    name = "trouble"

    @property
    def decisions(self) -> Sequence[Decision]:
        return (
            Decision("kind", ("ok", "broken", "exploding", "slow")),
            Decision("width", (16, 24)),
        )

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10
    ) -> nn.Module:
        kind = arch["kind"]
        width = 4096 if kind == "slow" else int(arch["width"])
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(int(np.prod(input_shape)), width),
            nn.ReLU(),
            *[nn.Linear(width, width) for _ in range(8 if kind == "slow" else 0)],
            _Scale(1e30 if kind == "exploding" else 1.0),
            nn.Linear(width + 1 if kind == "broken" else width, num_classes),
        )


class _Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def _evaluator(task: Task, space: SearchSpace, **kwargs: Any) -> TrainingEvaluator:
    config = TrainConfig(epochs=2, threads=1, grad_clip=None, lr=0.05)
    return TrainingEvaluator(space, task, train_config=config, latency_repeats=3, **kwargs)


def test_a_candidate_is_trained_and_measured(digits: Task) -> None:
    space = make_space("mlp")
    arch = Arch(
        {
            "depth": 1,
            "width_0": 64,
            "width_1": 32,
            "width_2": 32,
            "width_3": 32,
            "activation": "relu",
            "dropout": 0.0,
            "norm": "none",
        }
    )
    result = _evaluator(digits, space).evaluate(arch, 3)
    assert result.status is Status.OK, result.error
    assert result.metrics["accuracy"] > 80.0
    assert result.metrics["params"] == 64 * 64 + 64 + 64 * 10 + 10
    assert result.metrics["flops"] == 64 * 64 + 64 * 10
    assert result.metrics["latency_ms"] > 0
    assert result.metrics["epochs"] == 3
    assert len(result.info["valid_accuracy"]) == 3
    assert result.cost >= result.metrics["train_seconds"] > 0


def test_same_arch_same_result_and_no_global_rng_change(digits: Task) -> None:
    space = make_space("mlp", max_layers=2)
    arch = space.sample(np.random.default_rng(0))
    evaluator = _evaluator(digits, space)
    torch.manual_seed(123)
    before = torch.rand(1).item()
    torch.manual_seed(123)
    first = evaluator.evaluate(arch, 2)
    after = torch.rand(1).item()
    second = evaluator.evaluate(arch, 2)
    assert before == after
    assert first.info["valid_accuracy"] == second.info["valid_accuracy"]
    assert first.metrics["accuracy"] == second.metrics["accuracy"]


def test_failing_candidates_end_their_trial_and_the_search_finishes(digits: Task) -> None:
    space = TroubleSpace()
    evaluator = _evaluator(digits, space, time_limit=2.0)
    result = Experiment(
        space,
        GridSearch(space),
        evaluator,
        budget=Budget(queries=20),
        deduplicate=False,
    ).run()
    assert result.usage.queries == 8, "the grid ends the search after all 8 candidates"
    expected = {
        "ok": (Status.OK, None),
        "broken": (Status.FAILED, "RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
        "exploding": (Status.DIVERGED, "loss became"),
        "slow": (Status.FAILED, "time limit of 2 s reached"),
    }
    for trial in result.trials:
        status, reason = expected[str(Arch.parse(trial.arch)["kind"])]
        assert trial.status is status, trial
        if reason is not None:
            assert trial.error is not None and trial.error.startswith(reason), trial.error
    statuses = {t.status for t in result.trials}
    assert {Status.OK, Status.FAILED, Status.DIVERGED} <= statuses


def test_joint_hyperparameters_reach_the_trainer(digits: Task) -> None:
    space = make_space(
        "mlp", max_layers=1, hyperparameters={"lr": [0.001, 0.1], "batch_size": [16, 128]}
    )
    evaluator = _evaluator(digits, space)
    arch = space.sample(np.random.default_rng(1)).replace(**{"hp.lr": 0.001, "hp.batch_size": 16})
    config = evaluator.trial_config(arch, 4)
    assert (config.lr, config.batch_size, config.epochs) == (0.001, 16, 4)
    slow = evaluator.evaluate(arch, 1)
    fast = evaluator.evaluate(arch.replace(**{"hp.lr": 0.1}), 1)
    assert slow.metrics["accuracy"] != fast.metrics["accuracy"]


def test_space_that_does_not_fit_the_task_is_refused(digits: Task) -> None:
    with pytest.raises(SpaceError, match="space 'conv1d' needs sequences"):
        _evaluator(digits, make_space("conv1d"))


def test_epoch_budget_must_be_a_whole_positive_number(digits: Task) -> None:
    evaluator = _evaluator(digits, make_space("mlp"))
    arch = make_space("mlp").sample(np.random.default_rng(0))
    for bad in (0, -1, 1.5):
        with pytest.raises(ConfigError, match="whole number of epochs"):
            evaluator.evaluate(arch, bad)
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        TrainConfig(epochs=0)


def test_retrain_reports_test_accuracy(digits: Task) -> None:
    space = make_space("nb201", channels=4, cells_per_stage=1)
    arch = space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    )
    retrained = retrain(_evaluator(digits, space), arch, 3, with_validation=False)
    assert retrained.report.epochs_run == 3 and not retrained.with_validation
    assert 80.0 < retrained.test_accuracy <= 100.0
    model = retrained.model
    with torch.no_grad():
        logits = model.eval()(torch.tensor(digits.x_test))
    expected = 100.0 * float((logits.argmax(1).numpy() == digits.y_test).mean())
    assert retrained.test_accuracy == pytest.approx(expected)


def test_the_final_retrain_learns_from_the_validation_split_only_when_asked(digits: Task) -> None:
    # every 9 is moved into the validation split: only a retrain that trains on it can learn 9s
    nines_train = digits.y_train == 9
    task = dataclasses.replace(
        digits,
        x_train=digits.x_train[~nines_train],
        y_train=digits.y_train[~nines_train],
        x_valid=np.concatenate([digits.x_valid, digits.x_train[nines_train]]),
        y_valid=np.concatenate([digits.y_valid, digits.y_train[nines_train]]),
    )
    space = make_space("mlp", max_layers=1, widths=[64], dropouts=[0.0], norms=["none"])
    arch = space.sample(np.random.default_rng(0))
    nines_test = task.y_test == 9

    def nines_recognized(with_validation: bool) -> float:
        retrained = retrain(_evaluator(task, space), arch, 5, with_validation=with_validation)
        assert retrained.with_validation is with_validation
        with torch.no_grad():
            logits = retrained.model.eval()(torch.tensor(task.x_test[nines_test]))
        return float((logits.argmax(1).numpy() == 9).mean())

    assert nines_recognized(False) == 0.0
    assert nines_recognized(True) > 0.5
