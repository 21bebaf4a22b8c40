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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data.image_files import ImageFiles
from nasforge.data.task import DataError, FloatArray, Task
from nasforge.device import (
    autocast,
    fit_device,
    grad_scaler,
    resolve_precision,
)
from nasforge.status import Status
from nasforge.training.augment import (
    BandStats,
    augment_audio,
    band_stats,
    crop_and_flip,
    default_augment,
)
from nasforge.training.batches import EpochBatches, ShuffledTensors, split_batches
from nasforge.training.config import TrainConfig
from nasforge.training.hooks import TrainerHooks
from nasforge.training.metrics import EpochMetrics, TrainReport
from nasforge.training.optim import cosine_schedule, make_optimizer


@dataclass
class _EpochRun:
    """Running totals of one training epoch, and why it ended early (if it did)."""

    steps: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    diverged: float | None = None  # the non-finite loss that ended the epoch
    out_of_time: bool = False


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
        self._audio_augment = False
        self._band_stats: BandStats | None = None
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
            valid_batches = split_batches(
                self._tensor(task.x_valid, torch.float32), y_valid, cfg.eval_batch_size
            )
        self._params = list(model.parameters())
        augment = default_augment(task) if cfg.augment is None else cfg.augment
        self._augment = augment and len(shape) == 3 and shape[1] >= 16
        self._band_stats = band_stats(task) if augment else None
        self._audio_augment = self._band_stats is not None
        steps_per_epoch = math.ceil(len(y_train) / cfg.batch_size)
        optimizer = self.optimizer = self._optimizer(model)
        self.scaler = grad_scaler(self.device, self.precision)
        total_steps = cfg.epochs * steps_per_epoch
        schedule = cosine_schedule(optimizer, total_steps, cfg.eta_min) if cfg.cosine else None
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
        return ShuffledTensors(xt, y, self.config.batch_size, self._generator)

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
                xb = crop_and_flip(xb, self._generator)
            if self._audio_augment:
                xb = augment_audio(
                    xb, self._generator, self._band_stats, speaker=cfg.speaker_augment
                )
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
        """The fit's weight optimizer (a subclass may restore its state here)."""
        return make_optimizer(self.config, model)

    def _accuracy(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        if len(x) != len(y):
            raise DataError(f"x has {len(x)} rows but y has {len(y)}")
        return self._accuracy_of(model, split_batches(x, y, self.config.eval_batch_size), len(y))

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


def is_channels_last(model: nn.Module) -> bool:
    """Whether a 4-D parameter of the model is stored channels_last and not contiguous.

    (A weight with one input channel or a 1x1 kernel is both, so it tells nothing.)"""
    return any(
        p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in model.parameters()
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


# README's examples import TrainConfig from this module: the loop's parts stay importable here.
__all__ = [
    "EpochMetrics",
    "TrainConfig",
    "TrainReport",
    "Trainer",
    "TrainerHooks",
    "is_channels_last",
]
