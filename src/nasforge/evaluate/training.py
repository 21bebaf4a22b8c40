"""Training evaluator: build the candidate, train it on the task, measure it.

The budget of a trial is its number of training epochs. The result holds the validation
accuracy (``accuracy``, in %), the learning curve (in ``info``), the parameter count,
FLOPs, batch-1 CPU latency and the cost in seconds. A trial whose loss turns NaN ends as
``diverged``; one that raises (out of memory included) or runs past its time limit ends as
``failed``, with the reason stored; either way the search goes on.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from typing import Any

import torch

from nasforge.arch import Arch
from nasforge.data.task import Task
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.cost import count_flops, count_parameters, measure_latency_ms
from nasforge.evaluate.result import Result, Status
from nasforge.space.base import SearchSpace
from nasforge.space.hyperparams import hyperparameters_of
from nasforge.training.trainer import TrainConfig, Trainer, TrainReport

METRICS = frozenset(
    {
        "accuracy",
        "best_accuracy",
        "train_accuracy",
        "params",
        "flops",
        "latency_ms",
        "epochs",
        "train_seconds",
    }
)


class TrainingEvaluator(Evaluator):
    """Trains each candidate from scratch with the one Trainer; budget = epochs."""

    name = "train"
    default_metric = "accuracy"

    def __init__(
        self,
        space: SearchSpace,
        task: Task,
        *,
        train_config: TrainConfig | None = None,
        time_limit: float | None = None,
        latency_repeats: int = 20,
        seed: int = 0,
        task_spec: dict[str, Any] | None = None,
    ) -> None:
        if time_limit is not None and time_limit <= 0:
            raise ConfigError(f"per-trial time limit must be > 0 seconds, not {time_limit}")
        space.check_input(task.input_shape)
        self.space = space
        self.task = task
        self.train_config = train_config or TrainConfig()
        self.time_limit = time_limit
        self.latency_repeats = latency_repeats
        self.seed = seed
        self.task_spec = task_spec or {"name": task.name}
        self.default_budget = float(self.train_config.epochs)

    def config(self) -> dict[str, Any]:
        return {
            "task": self.task_spec,
            "train": dataclasses.asdict(self.train_config),
            "time_limit": self.time_limit,
            "latency_repeats": self.latency_repeats,
            "seed": self.seed,
        }

    def metric_names(self) -> frozenset[str]:
        return METRICS

    def trial_seed(self, arch: Arch) -> int:
        """The same arch always trains from the same seed (within one evaluator seed)."""
        return (self.seed * 1_000_003 + zlib.crc32(str(arch).encode())) % (2**31)

    def trial_config(self, arch: Arch, epochs: int) -> TrainConfig:
        """The train config of one trial: joint hyperparameters of `arch` override defaults."""
        overrides: dict[str, Any] = {
            "epochs": epochs,
            "seed": self.trial_seed(arch),
            "max_seconds": self.time_limit,
        }
        for key, value in hyperparameters_of(self.space, arch).items():
            overrides[key] = int(value) if key == "batch_size" else float(value)
        return dataclasses.replace(self.train_config, **overrides)

    def build(self, arch: Arch, seed: int) -> torch.nn.Module:
        """The candidate network, initialized from `seed` without touching global RNG state."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.space.build(arch, self.task.input_shape, self.task.num_classes)

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        requested = self.train_config.epochs if budget is None else budget
        epochs = int(requested)
        if epochs != requested or epochs < 1:
            raise ConfigError(f"a training budget is a whole number of epochs >= 1, not {budget}")
        started = time.perf_counter()
        config = self.trial_config(arch, epochs)
        try:
            model = self.build(arch, config.seed)
            report = Trainer(config).fit(model, self.task)
        except (MemoryError, RuntimeError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return Result.failed(reason, cost=time.perf_counter() - started)
        info = _curve_info(report)
        if report.status is Status.DIVERGED:
            return Result(
                cost=time.perf_counter() - started,
                status=Status.DIVERGED,
                error=report.reason,
                info=info,
            )
        if report.reason == "time limit":
            limit = (
                f"time limit of {self.time_limit:g} s reached" if self.time_limit else "time limit"
            )
            return Result(
                metrics={"accuracy": 100.0 * report.last_valid_accuracy},
                cost=time.perf_counter() - started,
                status=Status.FAILED,
                error=f"{limit} after {report.epochs_run} of {epochs} epochs",
                info=info,
            )
        metrics = {
            "accuracy": 100.0 * report.last_valid_accuracy,
            "best_accuracy": 100.0 * report.best_valid_accuracy,
            "train_accuracy": 100.0 * report.curve[-1].train_accuracy,
            "params": float(count_parameters(model)),
            "flops": float(count_flops(model, self.task.input_shape)),
            "latency_ms": measure_latency_ms(
                model, self.task.input_shape, repeats=self.latency_repeats
            ),
            "epochs": float(report.epochs_run),
            "train_seconds": report.seconds,
        }
        return Result(metrics=metrics, cost=time.perf_counter() - started, info=info)


def _curve_info(report: TrainReport) -> dict[str, Any]:
    return {
        "valid_accuracy": [round(100.0 * m.valid_accuracy, 3) for m in report.curve],
        "train_loss": [round(m.train_loss, 5) for m in report.curve],
        "reason": report.reason,
    }


@dataclasses.dataclass(frozen=True)
class Retrained:
    """A network retrained from scratch, with its training report and test accuracy (%)."""

    model: torch.nn.Module
    report: TrainReport
    test_accuracy: float
    config: TrainConfig


def retrain(evaluator: TrainingEvaluator, arch: Arch, epochs: int) -> Retrained:
    """Train `arch` from scratch for `epochs` as a trial would, then measure test accuracy."""
    if epochs < 1:
        raise ConfigError(f"retraining needs epochs >= 1, not {epochs}")
    config = dataclasses.replace(evaluator.trial_config(arch, epochs), max_seconds=None)
    model = evaluator.build(arch, config.seed)
    trainer = Trainer(config)
    report = trainer.fit(model, evaluator.task)
    task = evaluator.task
    test_accuracy = 100.0 * trainer.evaluate(model, task.x_test, task.y_test)
    return Retrained(model=model, report=report, test_accuracy=test_accuracy, config=config)
