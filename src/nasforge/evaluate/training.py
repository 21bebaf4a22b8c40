"""Training evaluator: build the candidate, train it on the task, measure it.

The budget of a trial is its number of training epochs. The result holds the validation
accuracy (``accuracy``, in %), the learning curve (in ``info``), the parameter count,
FLOPs, batch-1 CPU latency and the cost in seconds. A trial whose loss turns NaN ends as
``diverged``; one that raises (out of memory included) or runs past its time limit ends as
``failed``, with the reason stored; either way the search goes on.

Checkpoint continuation (``continue_from_checkpoints``, on by default): after a trial that
trained all its epochs, the evaluator keeps the network's weights, the optimizer's state and
the epochs done, in memory, per arch (the most recent `MAX_CHECKPOINTS` archs). When the same
arch comes again with more epochs (a promotion by successive halving or Hyperband), training
continues from that checkpoint for the extra epochs only, and the trial's cost is their time.
This is an approximation of training for the larger budget from scratch: the first epochs
followed the cosine schedule of the *smaller* budget (annealed to 0), and the continuation
follows the cosine of the new total budget from the epoch reached on (so the learning rate
jumps back up, as in a warm restart); shuffling continues from another seed. ``info`` records
``continued_from`` (the epochs reused, 0 if trained from scratch), and the learning curve
holds every epoch, reused ones first. A checkpoint lives in the evaluator's process: a
process-pool executor continues only where the same worker trained the smaller budget.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from nasforge.arch import Arch
from nasforge.data.task import Task
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.measure import count_flops, count_parameters, measure_latency_ms
from nasforge.objective import Constraint
from nasforge.space.base import SearchSpace
from nasforge.space.hyperparams import hyperparameters_of
from nasforge.status import Status
from nasforge.training import TrainConfig, Trainer, TrainerHooks, TrainReport

if TYPE_CHECKING:
    from nasforge.measure.latency_table import LatencyTable

PREDICTED_LATENCY = "latency_ms_predicted"
"""Batch-1 latency predicted by a latency lookup table (`nasforge.measure.latency_table`)."""
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

MAX_CHECKPOINTS = 256
"""How many archs' checkpoints a training evaluator keeps (least recently used leave)."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A trained network's state after `epochs` epochs, to continue training from."""

    epochs: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    valid_accuracy: tuple[float, ...]
    """The learning curve so far (%), as `Result.info` holds it."""
    train_loss: tuple[float, ...]


class TrainingEvaluator(Evaluator):
    """Trains each candidate with the one Trainer (budget = epochs), from scratch or, for
    more epochs of an arch trained before, from its checkpoint."""

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
        continue_from_checkpoints: bool = True,
        screen: Sequence[Mapping[str, Any]] = (),
        latency_table: str | None = None,
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
        self.continue_from_checkpoints = continue_from_checkpoints
        self.screen = [dict(limit) for limit in screen]
        self.latency_table = latency_table
        self.screen_: list[Constraint] = [Constraint(**limit) for limit in self.screen]
        self.table_: LatencyTable | None = None
        if latency_table is not None:
            from nasforge.measure.latency_table import LatencyTable

            self.table_ = LatencyTable.load(latency_table)
            self.table_.check_matches(space)
            if tuple(self.table_.input_shape) != tuple(task.input_shape) or (
                self.table_.classes != task.num_classes
            ):
                raise ConfigError(
                    f"latency table was built for input {list(self.table_.input_shape)} and "
                    f"{self.table_.classes} classes, the task has {list(task.input_shape)} and "
                    f"{task.num_classes}: build it with --input-shape and --classes to match"
                )
        unscreenable = [c.metric for c in self.screen_ if c.metric not in self.before_training()]
        if unscreenable:
            raise ConfigError(
                f"cannot check {', '.join(unscreenable)} before training: screen params, flops"
                + (" or latency_ms_predicted" if self.table_ else "")
            )
        self.default_budget = float(self.train_config.epochs)
        self.checkpoints_: OrderedDict[Arch, Checkpoint] = OrderedDict()

    def config(self) -> dict[str, Any]:
        return {
            "task": self.task_spec,
            "train": dataclasses.asdict(self.train_config),
            "time_limit": self.time_limit,
            "latency_repeats": self.latency_repeats,
            "seed": self.seed,
            "continue_from_checkpoints": self.continue_from_checkpoints,
            "screen": [dict(limit) for limit in self.screen],
            "latency_table": self.latency_table,
        }

    def metric_names(self) -> frozenset[str]:
        return METRICS | ({PREDICTED_LATENCY} if self.table_ is not None else set())

    def before_training(self) -> frozenset[str]:
        """Metrics known before a candidate trains (what `screen` may limit)."""
        return frozenset({"params", "flops"} | ({PREDICTED_LATENCY} if self.table_ else set()))

    def untrained_metrics(self, arch: Arch, model: torch.nn.Module) -> dict[str, float]:
        metrics = {
            "params": float(count_parameters(model)),
            "flops": float(count_flops(model, self.task.input_shape)),
        }
        if self.table_ is not None:
            metrics[PREDICTED_LATENCY] = self.table_.predict(self.space, arch)
        return metrics

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
        resume = self._checkpoint_before(arch, epochs)
        try:
            model = self.build(arch, config.seed)
            untrained = self.untrained_metrics(arch, model)
            broken = [c for c in self.screen_ if c.violation(untrained) > 0]
            if broken:
                limits = ", ".join(
                    f"{c.metric} {untrained[c.metric]:.4g} not {c.operator} {c.bound:g}"
                    for c in broken
                )
                return Result(
                    metrics=untrained,
                    cost=time.perf_counter() - started,
                    status=Status.FAILED,
                    error=f"not trained: {limits}",
                )
            trainer = _CheckpointTrainer(config, resume, self._steps_per_epoch(config))
            if resume is not None:
                model.load_state_dict(resume.model_state)
            report = trainer.fit(model, self.task)
        except (MemoryError, RuntimeError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return Result.failed(reason, cost=time.perf_counter() - started)
        done = 0 if resume is None else resume.epochs
        info = _curve_info(report, resume)
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
                error=f"{limit} after {done + report.epochs_run} of {epochs} epochs",
                info=info,
            )
        if done + report.epochs_run == epochs:
            self._keep_checkpoint(arch, model, trainer, info)
        metrics = {
            "accuracy": 100.0 * report.last_valid_accuracy,
            "best_accuracy": max(info["valid_accuracy"]),
            "train_accuracy": 100.0 * report.curve[-1].train_accuracy,
            **untrained,
            "latency_ms": measure_latency_ms(
                model, self.task.input_shape, repeats=self.latency_repeats
            ),
            "epochs": float(done + report.epochs_run),
            "train_seconds": report.seconds,
        }
        return Result(metrics=metrics, cost=time.perf_counter() - started, info=info)

    # -- checkpoints -------------------------------------------------------------------
    def _steps_per_epoch(self, config: TrainConfig) -> int:
        return math.ceil(len(self.task.y_train) / config.batch_size)

    def _checkpoint_before(self, arch: Arch, epochs: int) -> Checkpoint | None:
        """The checkpoint of `arch` to continue from for `epochs`, if any (fewer epochs)."""
        checkpoint = self.checkpoints_.get(arch) if self.continue_from_checkpoints else None
        if checkpoint is None or checkpoint.epochs >= epochs:
            return None
        self.checkpoints_.move_to_end(arch)
        return checkpoint

    def _keep_checkpoint(
        self, arch: Arch, model: torch.nn.Module, trainer: _CheckpointTrainer, info: dict[str, Any]
    ) -> None:
        if not self.continue_from_checkpoints or trainer.optimizer_ is None:
            return
        epochs = len(info["valid_accuracy"])
        earlier = self.checkpoints_.get(arch)
        if earlier is not None and earlier.epochs > epochs:
            return
        self.checkpoints_[arch] = Checkpoint(
            epochs=epochs,
            model_state={k: v.detach().clone() for k, v in model.state_dict().items()},
            optimizer_state=copy.deepcopy(trainer.optimizer_.state_dict()),
            valid_accuracy=tuple(info["valid_accuracy"]),
            train_loss=tuple(info["train_loss"]),
        )
        self.checkpoints_.move_to_end(arch)
        while len(self.checkpoints_) > MAX_CHECKPOINTS:
            self.checkpoints_.popitem(last=False)


class _CheckpointTrainer(Trainer):
    """The Trainer, remembering its optimizer; from a checkpoint it trains the extra epochs
    with the checkpoint's optimizer state and the cosine schedule of the whole budget."""

    def __init__(self, config: TrainConfig, resume: Checkpoint | None, steps_per_epoch: int):
        total = config.epochs
        hooks: tuple[TrainerHooks, ...] = ()
        if resume is not None:
            config = dataclasses.replace(
                config, epochs=total - resume.epochs, seed=(config.seed + resume.epochs) % 2**31
            )
            if config.cosine:
                offset = resume.epochs * steps_per_epoch
                hooks = (_ShiftedCosine(self, config.lr, offset, total * steps_per_epoch),)
        super().__init__(config, hooks)
        self.resume = resume
        self.optimizer_: torch.optim.Optimizer | None = None

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        optimizer = super()._optimizer(model)
        if self.resume is not None:
            # deep copy: loading keeps the tensors, and training would change the checkpoint
            optimizer.load_state_dict(copy.deepcopy(self.resume.optimizer_state))
            for group in optimizer.param_groups:
                group["lr"] = self.config.lr
                group.pop("initial_lr", None)
        self.optimizer_ = optimizer
        return optimizer


class _ShiftedCosine(TrainerHooks):
    """Sets the learning rate of step `offset + step` of a cosine over `total` steps."""

    def __init__(self, trainer: _CheckpointTrainer, lr: float, offset: int, total: int) -> None:
        self.trainer = trainer
        self.lr = lr
        self.offset = offset
        self.total = total

    def on_fit_start(self, model: torch.nn.Module, task: Task) -> None:
        self._set(0)

    def on_batch_end(self, step: int, model: torch.nn.Module, loss: float) -> None:
        self._set(step + 1)

    def _set(self, step: int) -> None:
        optimizer = self.trainer.optimizer_
        if optimizer is None:
            return
        position = min(self.offset + step, self.total) / self.total
        for group in optimizer.param_groups:
            group["lr"] = self.lr * 0.5 * (1.0 + math.cos(math.pi * position))


def _curve_info(report: TrainReport, resume: Checkpoint | None = None) -> dict[str, Any]:
    before_valid = list(resume.valid_accuracy) if resume is not None else []
    before_loss = list(resume.train_loss) if resume is not None else []
    return {
        "valid_accuracy": before_valid + [round(100.0 * m.valid_accuracy, 3) for m in report.curve],
        "train_loss": before_loss + [round(m.train_loss, 5) for m in report.curve],
        "reason": report.reason
        if resume is None
        else f"continued after {resume.epochs} epochs: {report.reason}",
        "continued": resume is not None,
        "continued_from": 0 if resume is None else resume.epochs,
        "device": report.device,
        "precision": report.precision,
    }


@dataclasses.dataclass(frozen=True)
class Retrained:
    """A network retrained from scratch, with its training report and test accuracy (%)."""

    model: torch.nn.Module
    report: TrainReport
    test_accuracy: float
    config: TrainConfig
    with_validation: bool = False
    """Whether it trained on the validation split too (its valid accuracy is not held out)."""


def retrain(
    evaluator: TrainingEvaluator, arch: Arch, epochs: int, *, with_validation: bool
) -> Retrained:
    """Train `arch` from scratch for `epochs` as a trial would, then measure test accuracy.

    `with_validation`: on the training and the validation split together
    (`Task.for_final_training`: all the training data, as a search's final model is trained
    by default), so the report's valid accuracy is then no longer held out; else on the
    training split alone."""
    if epochs < 1:
        raise ConfigError(f"retraining needs epochs >= 1, not {epochs}")
    config = dataclasses.replace(evaluator.trial_config(arch, epochs), max_seconds=None)
    model = evaluator.build(arch, config.seed)
    trainer = Trainer(config)
    task = evaluator.task
    report = trainer.fit(model, task.for_final_training() if with_validation else task)
    test_accuracy = 100.0 * trainer.evaluate(model, task.x_test, task.y_test)
    return Retrained(
        model=model,
        report=report,
        test_accuracy=test_accuracy,
        config=config,
        with_validation=with_validation and bool(len(task.y_valid)),
    )
