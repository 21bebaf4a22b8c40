"""`Trainer`: the one training loop, for evaluators, final retraining and one-shot methods.

Methods that need more than plain supervised training (sampling a path of a supernet,
updating architecture weights) subclass `TrainerHooks` and override the hooks they need;
they never copy the loop.

A fit is deterministic for a seed: shuffling and augmentation draw from the trainer's own
`torch.Generator`, and weight initialization or dropout inside the fit draw from torch's
global generator, seeded inside a `torch.random.fork_rng` block so that the caller's random
state is left as it was. The fit also turns on flushing of denormal floats (a process-wide
CPU setting without a getter, so it stays on): without it small CPU networks train up to
10x slower as weights shrink.

Speed on CPU (measured in ``docs/benchmarks.md``, "Trainer throughput"): image models train
in the channels_last memory format (``TrainConfig.channels_last``, on by default; the model
is given back in the format it came in), SGD uses torch's fused kernel, the parameter list
is read once per fit rather than once per step, and per-step accuracy counts stay tensors
until the end of the epoch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data.image_files import ImageFiles
from nasforge.data.task import DataError, FloatArray, Task
from nasforge.device import (
    autocast,
    check_device_name,
    check_precision_name,
    fit_device,
    grad_scaler,
    resolve_precision,
)
from nasforge.errors import ConfigError
from nasforge.status import Status

OPTIMIZERS = ("sgd", "adamw")


class EpochBatches(Sized, Protocol):
    """Training batches ``(x, y)`` of one epoch, with their number."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, regularization, limits and the seed.

    ``optimizer`` is ``"sgd"`` (Nesterov momentum 0.9) or ``"adamw"``; ``cosine`` anneals the
    learning rate per step to ``eta_min`` (0 by default; DARTS and GDAS anneal to 0.001, as
    torch's ``CosineAnnealingLR(optimizer, epochs, eta_min)``) over ``epochs``. ``augment``
    randomly crops (zero padding of 1/8 of the size) and flips images at least 16 pixels
    high, and masks one band of frequencies and one span of time of an audio task's log-mel
    spectrograms (SpecAugment: up to a fifth of each, at most 8 bands and 20 frames); other
    inputs are left as they are. ``threads`` sets torch's thread count during the fit
    (``None`` keeps it).
    ``channels_last`` trains 4-D (image) inputs in the channels_last memory format, which is
    faster on CPU for the NB201 networks at 8x8 and 32x32 (other inputs are left as they
    are); it changes only the memory layout, not what is computed (up to float rounding).
    ``max_seconds`` stops training after the step that crosses it.
    ``device`` is where the model, its batches and every tensor of the fit live: ``auto``
    (a GPU if torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``,
    resolved when a `Trainer` is made (where it runs: a configuration stored on a machine
    with a GPU is read anywhere), a device torch cannot use there being a `DeviceError`.
    ``precision`` is ``fp32``, ``bf16`` (autocast to bfloat16), ``fp16`` (autocast to
    float16 with gradient scaling) or ``auto`` (bf16 or fp16 on a GPU, fp32 elsewhere);
    parameters stay float32. The report of a fit says which device and precision it used.
    """

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    weight_decay: float = 5e-4
    cosine: bool = True
    eta_min: float = 0.0
    grad_clip: float | None = 5.0
    early_stopping_patience: int | None = None
    augment: bool = False
    threads: int | None = None
    seed: int = 0
    channels_last: bool = True
    max_seconds: float | None = None
    eval_batch_size: int = 1024
    device: str = "auto"
    precision: str = "auto"
    auxiliary_weight: float = 0.4
    """Weight of an auxiliary head's loss (DARTS's 0.4), for a model that sets
    ``auxiliary_logits`` in its training forward pass (the darts network with
    ``auxiliary=True``); other models have none."""

    def __post_init__(self) -> None:
        check_device_name(self.device)
        check_precision_name(self.precision)
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"train config: {name} must be >= 1, not {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"train config: unknown optimizer {self.optimizer!r}; "
                f"choose from {', '.join(OPTIMIZERS)}"
            )
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise ConfigError(f"train config: lr must be a finite number >= 0, not {self.lr}")
        if not (math.isfinite(self.eta_min) and 0 <= self.eta_min <= self.lr):
            raise ConfigError(
                f"train config: eta_min must lie in [0, lr] = [0, {self.lr:g}], not {self.eta_min}"
            )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"train config: weight_decay must be >= 0, not {self.weight_decay}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"train config: grad_clip must be > 0 or None, not {self.grad_clip}")
        patience = self.early_stopping_patience
        if patience is not None and patience < 1:
            raise ConfigError(f"train config: early_stopping_patience must be >= 1, not {patience}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"train config: threads must be >= 1, not {self.threads}")
        if not (math.isfinite(self.auxiliary_weight) and self.auxiliary_weight >= 0):
            raise ConfigError(
                f"train config: auxiliary_weight must be >= 0, not {self.auxiliary_weight}"
            )
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ConfigError(f"train config: max_seconds must be > 0, not {self.max_seconds}")


@dataclass(frozen=True)
class EpochMetrics:
    """One point of the learning curve. ``steps`` is below a full epoch if training stopped."""

    epoch: int
    steps: int
    train_loss: float
    train_accuracy: float
    valid_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainReport:
    """What a fit did: the learning curve, the accuracies, its time and how it ended."""

    curve: tuple[EpochMetrics, ...]
    status: Status
    reason: str
    seconds: float
    steps: int
    device: str = "cpu"
    precision: str = "fp32"
    best_valid_accuracy: float = field(init=False)
    last_valid_accuracy: float = field(init=False)
    best_epoch: int = field(init=False)

    def __post_init__(self) -> None:
        valid = [m.valid_accuracy for m in self.curve]
        best = int(np.argmax(valid)) if valid else -1
        object.__setattr__(self, "best_valid_accuracy", valid[best] if valid else 0.0)
        object.__setattr__(self, "last_valid_accuracy", valid[-1] if valid else 0.0)
        object.__setattr__(self, "best_epoch", self.curve[best].epoch if valid else -1)

    @property
    def epochs_run(self) -> int:
        """Epochs started (the last one may be partial: see its ``steps``)."""
        return len(self.curve)


@dataclass
class _EpochRun:
    """Running totals of one training epoch, and why it ended early (if it did)."""

    steps: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    diverged: float | None = None  # the non-finite loss that ended the epoch
    out_of_time: bool = False


class TrainerHooks:
    """No-op callbacks of the training loop; override the ones a method needs.

    ``step`` counts optimizer steps from 0 over the whole fit; ``epoch`` counts from 0.
    """

    def on_fit_start(self, model: nn.Module, task: Task) -> None:
        """Before the first epoch (e.g. set up architecture optimizers)."""

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        """Before the first batch of an epoch."""

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        """Before the forward pass of a batch (e.g. sample a path, update architecture weights)."""

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        """After `on_batch_start`, with the batch about to be trained on (e.g. for a bilevel
        architecture step that unrolls the weight step on this batch)."""

    def after_backward(self, step: int, model: nn.Module) -> None:
        """After gradients are computed, before clipping and the optimizer step."""

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        """After the optimizer step."""

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> None:
        """After validation, with the epoch's point of the learning curve."""

    def should_stop(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> str | None:
        """After `on_epoch_end`: why training should end after this epoch, or None to go on
        (e.g. a wall-time budget counted in whole epochs)."""
        return None

    def on_fit_end(self, model: nn.Module, report: TrainReport) -> None:
        """After training ended, for any reason."""


class Trainer:
    """Trains a classifier on a task with cross-entropy, validating after each epoch.

    A trainer runs one fit at a time (it keeps the fit's generator while training).
    """

    def __init__(
        self, config: TrainConfig | None = None, hooks: Sequence[TrainerHooks] = ()
    ) -> None:
        self.config = config if config is not None else TrainConfig()
        self.device = fit_device(self.config.device)
        """Where the fit runs (the config's device, resolved here)."""
        self.precision = resolve_precision(self.config.precision, self.device)
        """The fit's precision, resolved: fp32, bf16 or fp16."""
        self.hooks = tuple(hooks)
        self._generator = torch.Generator()
        self._augment = False
        self._spec_augment = False
        self.optimizer: torch.optim.Optimizer | None = None
        """The weight optimizer of the fit under way (hooks may read its learning rate)."""
        self._params: list[nn.Parameter] = []
        self._loaders: list[Any] = []  # DataLoaders of image files, closed after a fit
        self.scaler: torch.amp.GradScaler | None = None
        """The fp16 gradient scaler of the fit under way (None in fp32 and bf16)."""

    def fit(self, model: nn.Module, task: Task) -> TrainReport:
        """Train ``model`` in place on ``task``; a NaN or infinite loss ends it as DIVERGED."""
        cfg = self.config
        with _isolated(cfg.seed, cfg.threads):
            try:
                return self._fit(model, task)
            finally:
                self._close_loaders()

    def evaluate(
        self,
        model: nn.Module,
        x: npt.ArrayLike | torch.Tensor | ImageFiles,
        y: npt.ArrayLike | torch.Tensor,
    ) -> float:
        """Accuracy of ``model`` on inputs ``x`` (already normalized, or `ImageFiles`,
        decoded batch by batch) and labels ``y``."""
        cfg = self.config
        with _isolated(cfg.seed, cfg.threads):
            yt = self._tensor(y, torch.int64)
            if isinstance(x, ImageFiles):
                try:
                    return self._accuracy_of(model, self._eval_batches(x, yt), len(yt))
                finally:
                    self._close_loaders()
            return self._accuracy(model, self._tensor(x, torch.float32), yt)

    # -- the loop ----------------------------------------------------------------------

    def _fit(self, model: nn.Module, task: Task) -> TrainReport:
        cfg = self.config
        start = time.perf_counter()
        model.to(self.device)
        self._generator = torch.Generator().manual_seed(cfg.seed)
        y_train = self._tensor(task.y_train, torch.int64)
        y_valid = self._tensor(task.y_valid, torch.int64)
        shape = task.input_shape
        channels_last = cfg.channels_last and len(shape) == 3
        restore_contiguous = channels_last and not is_channels_last(model)
        if channels_last:
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        train_batches = self._train_batches(task.x_train, y_train, channels_last)
        if isinstance(task.x_valid, ImageFiles):
            valid_batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = self._eval_batches(
                task.x_valid, y_valid
            )
        else:
            valid_batches = _split_batches(
                self._tensor(task.x_valid, torch.float32), y_valid, cfg.eval_batch_size
            )
        self._params = list(model.parameters())
        self._augment = cfg.augment and len(shape) == 3 and shape[1] >= 16
        self._spec_augment = cfg.augment and is_audio(task) and len(shape) == 2
        steps_per_epoch = math.ceil(len(y_train) / cfg.batch_size)
        optimizer = self.optimizer = self._optimizer(model)
        self.scaler = grad_scaler(self.device, self.precision)
        total_steps = cfg.epochs * steps_per_epoch
        schedule = _cosine(optimizer, total_steps, cfg.eta_min) if cfg.cosine else None
        for hook in self.hooks:
            hook.on_fit_start(model, task)

        curve: list[EpochMetrics] = []
        status, reason, step = Status.OK, f"trained {cfg.epochs} epochs", 0
        best, stale = -1.0, 0
        for epoch in range(cfg.epochs):
            schedule_drop_path = getattr(model, "schedule_drop_path", None)
            if callable(schedule_drop_path):  # DARTS: the rate grows linearly from 0
                schedule_drop_path(epoch / cfg.epochs)
            for hook in self.hooks:
                hook.on_epoch_start(epoch, model)
            lr = float(optimizer.param_groups[0]["lr"])
            run = self._train_epoch(model, train_batches, optimizer, schedule, step, start)
            step += run.steps
            if run.diverged is not None:
                status = Status.DIVERGED
                reason = f"loss became {run.diverged} at epoch {epoch}, step {step}"
                break
            metrics = EpochMetrics(
                epoch=epoch,
                steps=run.steps,
                train_loss=run.loss_sum / max(run.seen, 1),
                train_accuracy=run.correct / max(run.seen, 1),
                valid_accuracy=self._accuracy_of(model, valid_batches, len(y_valid)),
                lr=lr,
                seconds=time.perf_counter() - start,
            )
            curve.append(metrics)
            for hook in self.hooks:
                hook.on_epoch_end(epoch, model, metrics)
            stops = [hook.should_stop(epoch, model, metrics) for hook in self.hooks]
            stop = next((text for text in stops if text is not None), None)
            if metrics.valid_accuracy > best:
                best, stale = metrics.valid_accuracy, 0
            else:
                stale += 1
            patience = cfg.early_stopping_patience
            if stop is not None and epoch + 1 < cfg.epochs:
                reason = stop
                break
            if run.out_of_time or (epoch + 1 < cfg.epochs and self._out_of_time(start)):
                reason = "time limit"
                break
            if patience is not None and stale >= patience and epoch + 1 < cfg.epochs:
                reason = f"early stopping: no better valid accuracy for {patience} epochs"
                break

        report = TrainReport(
            curve=tuple(curve),
            status=status,
            reason=reason,
            seconds=time.perf_counter() - start,
            steps=step,
            device=str(self.device),
            precision=self.precision,
        )
        for hook in self.hooks:
            hook.on_fit_end(model, report)
        if restore_contiguous:
            model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return report

    def _train_batches(
        self, x: FloatArray | ImageFiles, y: torch.Tensor, channels_last: bool
    ) -> EpochBatches:
        """The shuffled training batches of an epoch (iterated once per epoch): from tensors
        in memory, or decoded from `ImageFiles` by a ``DataLoader`` (the same batches: the
        permutation is drawn from the fit's generator either way)."""
        if isinstance(x, ImageFiles):
            from nasforge.data.image_loader import image_loader

            loader = image_loader(
                self._pinned(x),
                y.numpy(),
                batch_size=self.config.batch_size,
                generator=self._generator,
            )
            self._loaders.append(loader)
            return loader
        xt = self._tensor(x, torch.float32)
        if channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        return _ShuffledTensors(xt, y, self.config.batch_size, self._generator)

    def _eval_batches(
        self, x: ImageFiles, y: torch.Tensor
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        from nasforge.data.image_loader import image_loader

        loader = image_loader(self._pinned(x), y.numpy(), batch_size=self.config.eval_batch_size)
        self._loaders.append(loader)
        return loader

    def _pinned(self, files: ImageFiles) -> ImageFiles:
        """`files` read into pinned memory when the fit runs on a GPU (faster copies)."""
        if self.device.type != "cuda" or files.pin_memory:
            return files
        return dataclasses.replace(files, pin_memory=True)

    def _close_loaders(self) -> None:
        """End the worker processes of the fit's image loaders (kept between epochs)."""
        from nasforge.data.image_loader import close_loader

        while self._loaders:
            close_loader(self._loaders.pop())

    def _train_epoch(
        self,
        model: nn.Module,
        batches: EpochBatches,
        optimizer: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LambdaLR | None,
        first_step: int,
        start: float,
    ) -> _EpochRun:
        """One pass over the shuffled training data; stops early on divergence or time out."""
        cfg = self.config
        run = _EpochRun()
        model.train()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        count = len(batches)
        for index, (xb, yb) in enumerate(batches):
            step = first_step + run.steps
            if self._augment:
                xb = _crop_and_flip(xb, self._generator)
            if self._spec_augment:
                xb = spec_augment(xb, self._generator)
            if cfg.channels_last and xb.ndim == 4:
                xb = xb.contiguous(memory_format=torch.channels_last)
            xb, yb = xb.to(self.device), yb.to(self.device)
            for hook in self.hooks:
                hook.on_batch_start(step, model)
            for hook in self.hooks:
                hook.before_forward(step, model, xb, yb)
            logits, loss = self.forward_loss(model, xb, yb)
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):
                run.diverged = loss_value
                return run
            self.backward_step(step, model, loss, optimizer)
            if schedule is not None:
                schedule.step()
            for hook in self.hooks:
                hook.on_batch_end(step, model, loss_value)
            run.steps += 1
            run.loss_sum += loss_value * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
            run.seen += len(yb)
            if index + 1 < count and self._out_of_time(start):
                run.out_of_time = True
                break
        run.correct = int(correct)
        return run

    def forward_loss(
        self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the training loss of a batch (on the model's device), under the
        precision's autocast (the loss itself is float32: autocast computes it so)."""
        cfg = self.config
        with autocast(self.device, self.precision):
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            auxiliary = getattr(model, "auxiliary_logits", None)
            if isinstance(auxiliary, torch.Tensor) and cfg.auxiliary_weight > 0:
                loss = loss + cfg.auxiliary_weight * F.cross_entropy(auxiliary, yb)
        return logits, loss

    def backward_step(
        self, step: int, model: nn.Module, loss: torch.Tensor, optimizer: torch.optim.Optimizer
    ) -> None:
        """Gradients of ``loss`` (scaled in fp16, and unscaled before the hooks see them),
        clipping and the optimizer step (skipped by the fp16 scaler when they overflowed)."""
        cfg = self.config
        scaler = self.scaler
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()  # type: ignore[no-untyped-call]
        else:
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.unscale_(optimizer)
        for hook in self.hooks:
            hook.after_backward(step, model)
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self._params, cfg.grad_clip)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()

    # -- pieces --------------------------------------------------------------------------

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        cfg = self.config
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        fused = _fusable(params)
        optimizer = torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=cfg.weight_decay,
            fused=fused or None,
        )
        if fused:
            # torch's fused SGD needs every momentum buffer or none (a supernet path leaves
            # some parameters without gradients). With dampening 0 a zero buffer gives the
            # same first step as a missing one: 0.9 * 0 + grad = grad.
            for param in params:
                optimizer.state[param]["momentum_buffer"] = torch.zeros_like(param)
        return optimizer

    def _accuracy(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        if len(x) != len(y):
            raise DataError(f"x has {len(x)} rows but y has {len(y)}")
        return self._accuracy_of(model, _split_batches(x, y, self.config.eval_batch_size), len(y))

    def _accuracy_of(
        self, model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], count: int
    ) -> float:
        """Accuracy over ``count`` examples in ``batches`` (inputs already normalized)."""
        if count == 0:
            return 0.0
        was_training = model.training
        model.eval()
        correct = 0
        with torch.no_grad(), autocast(self.device, self.precision):
            for xb, yb in batches:
                if self.config.channels_last and xb.ndim == 4:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                logits = model(xb.to(self.device))
                correct += int((logits.argmax(1) == yb.to(self.device)).sum())
        model.train(was_training)
        return correct / count

    def _tensor(self, a: npt.ArrayLike | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """A copy as a tensor (task arrays are read-only; one conversion per fit)."""
        if isinstance(a, torch.Tensor):
            return a.to(dtype=dtype)
        return torch.tensor(np.asarray(a), dtype=dtype)

    def _out_of_time(self, start: float) -> bool:
        limit = self.config.max_seconds
        return limit is not None and time.perf_counter() - start >= limit


class _ShuffledTensors:
    """Batches of tensors in memory, in a new order drawn from ``generator`` per pass."""

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
    ) -> None:
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.y), generator=self.generator)
        for batch in torch.split(order, self.batch_size):
            yield self.x[batch], self.y[batch]


def _split_batches(
    x: torch.Tensor, y: torch.Tensor, size: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(zip(torch.split(x, size), torch.split(y, size), strict=True))


def is_channels_last(model: nn.Module) -> bool:
    """Whether a 4-D parameter of the model is stored channels_last and not contiguous.

    (A weight with one input channel or a 1x1 kernel is both, so it tells nothing.)"""
    return any(
        p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in model.parameters()
    )


def _fusable(params: Sequence[torch.Tensor]) -> bool:
    """Whether torch's fused SGD kernel takes these parameters (floats on CPU or CUDA).

    The fused kernel gives the same weights as the default one up to float rounding and
    saves a few per-parameter Python calls per step (about 0.8 ms of a 20 ms step of the
    small NB201 network on digits)."""
    return bool(params) and all(
        p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params
    )


@contextmanager
def _isolated(seed: int, threads: int | None) -> Iterator[None]:
    """Seed torch's CPU generator and set the thread count, restoring both afterwards."""
    previous_threads = torch.get_num_threads()
    torch.set_flush_denormal(True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous_threads)


def _cosine(
    optimizer: torch.optim.Optimizer, total_steps: int, eta_min: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step cosine annealing from the base learning rate to ``eta_min`` (reached after
    the last step): ``eta_min + (lr - eta_min) (1 + cos(pi t / T)) / 2``."""
    base = float(optimizer.param_groups[0]["lr"])
    floor = eta_min / base if base > 0 else 0.0

    def factor(step: int) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
        return floor + (1.0 - floor) * cosine

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def augment_batch(x: torch.Tensor, generator: torch.Generator, *, audio: bool) -> torch.Tensor:
    """The augmentation ``TrainConfig.augment`` applies to a training batch, drawn from
    ``generator``: crops and flips of images at least 16 pixels high, SpecAugment masks of
    an audio task's ``(n, bands, frames)`` spectrograms; other inputs as they are (e.g. a
    one-shot method's architecture batches, augmented as DARTS augments both halves)."""
    if x.ndim == 4 and x.shape[2] >= 16:
        return _crop_and_flip(x, generator)
    if audio and x.ndim == 3:
        return spec_augment(x, generator)
    return x


def is_audio(task: Task) -> bool:
    """Whether ``task`` holds log-mel spectrograms (which ``augment`` masks)."""
    return task.preprocessing is not None and task.preprocessing.get("kind") == "audio"


def spec_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SpecAugment's masks on ``(n, bands, frames)`` spectrograms (normalized: 0 is the mean):
    per example one band of ``[0, F]`` frequencies and one span of ``[0, T]`` frames set to
    0, with F = min(8, bands // 5) and T = min(20, frames // 5)."""
    n, bands, frames = x.shape
    masked = x.clone()
    for axis, size, limit in ((1, bands, min(8, bands // 5)), (2, frames, min(20, frames // 5))):
        width = torch.randint(0, limit + 1, (n,), generator=generator)
        start = (torch.rand(n, generator=generator) * (size - width + 1)).long()
        positions = torch.arange(size)[None, :]
        hit = (positions >= start[:, None]) & (positions < (start + width)[:, None])  # (n, size)
        mask = hit[:, :, None] if axis == 1 else hit[:, None, :]
        masked = masked.masked_fill(mask, 0.0)
    return masked


def _crop_and_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops of zero-padded images (padding 1/8 of the height) and horizontal flips."""
    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (n, c, h, w)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped).contiguous()
