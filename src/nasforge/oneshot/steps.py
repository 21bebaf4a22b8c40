"""`SearchSteps`: a one-shot search as hooks on the shared `Trainer`.

``method.search(task, ...)`` builds the space's supernet, splits the training data in two
halves (`bilevel`), estimates the step's peak memory (`memory`) and runs the one training
loop on the weights' half with the method itself as the trainer's hooks:

- ``before_forward`` (before each weight step): the architecture step (`_arch_step`; by
  default one Adam step on alpha on a batch of the other half), then the mode of the weight
  step (`_use_weight_mode`: e.g. softmax(alpha) for DARTS, a sampled path for GDAS);
- ``on_batch_end`` after the epoch's last step: `_before_validation` (by default the
  evaluation mode, which the trainer's validation then uses);
- ``on_epoch_end``: a point of the diagnostics; ``should_stop``: the wall-time budget,
  counted in whole epochs;
- ``on_fit_end``: `_select_arch`, the found arch (by default the argmax of alpha; ENAS and
  SPOS score candidate paths on the architecture half here).

A subclass says how architecture weights become the supernet's mode (`_arch_loss`,
`_use_weight_mode`, `_use_eval_mode`) and overrides other hooks where it needs to.
Per-search state ends in ``_``; constructor arguments are stored unchanged.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import partial

import numpy as np
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.device import autocast
from nasforge.measure.latency import model_device
from nasforge.measure.latency_table import LatencyTable
from nasforge.oneshot.arch_weights import choices_of, decisions_of, gradients
from nasforge.oneshot.bilevel import BatchStream, BilevelSplit
from nasforge.oneshot.calibration import calibration_batches
from nasforge.oneshot.diagnostics import DiagnosticsRecorder
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.latency_loss import ExpectedLatency, LatencyPenalty
from nasforge.oneshot.result import SearchMonitor
from nasforge.oneshot.sampling import PathScorer
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace
from nasforge.training import EpochMetrics, TrainerHooks, TrainReport
from nasforge.training.augment import augment_batch, is_audio

ARCH_AUGMENT_SEED = 2
"""Offset of the seed of the architecture batches' augmentation (``seed + 1`` draws the
BatchNorm calibration batches)."""


class SearchSteps(TrainerHooks, ABC):
    """The per-search state and the trainer hooks of a one-shot method (`OneShotMethod`
    holds its options and runs the search); see the module docstring for the hook order."""

    # options `OneShotMethod.__init__` stores (read here)
    name: str
    space: SearchSpace
    exclude_ops: tuple[str, ...]
    alpha_init: float
    arch_lr: float
    arch_betas: tuple[float, float]
    arch_weight_decay: float
    warmup_epochs: int
    augment: bool
    augments_arch_batches: bool
    channels_last: bool
    samples_every_op: bool
    latency_in_loss: bool
    latency_table: LatencyTable | None
    latency_target: float | None
    latency_weight: float
    # set by `OneShotMethod.search` before training
    precision_: str
    monitor_: SearchMonitor
    max_seconds_: float | None

    def _arch_labels(self, supernet: SuperNet) -> tuple[str, ...]:
        """The decisions the method holds architecture weights for: the module and input
        choices, or every decision for methods that sample paths over all of them."""
        return supernet.labels if self.samples_every_op else supernet.mixed_labels

    def _exclude_masks(self, supernet: SuperNet, labels: Sequence[str]) -> Alpha:
        """Per decision, 0 for a candidate and -inf for one named in ``exclude_ops``."""
        exclude, known, masks = set(self.exclude_ops), set[object](), {}
        for decision in decisions_of(supernet):
            if decision.label not in labels:
                continue
            known.update(decision.choices)
            mask = torch.zeros(len(decision.choices))
            for index, choice in enumerate(decision.choices):
                if choice in exclude:
                    mask[index] = -torch.inf
            if exclude and bool(torch.isinf(mask).all()):
                raise OneShotError(
                    f"cannot exclude {', '.join(map(repr, self.exclude_ops))}: no choice of "
                    f"{decision.label!r} would be left"
                )
            masks[decision.label] = mask.to(model_device(supernet))
        unknown = [name for name in self.exclude_ops if name not in known]
        if unknown:
            raise OneShotError(
                f"cannot exclude {', '.join(map(repr, unknown))}: not a choice of any decision "
                f"the method weights ({', '.join(labels)})"
            )
        return masks

    def _start(
        self, supernet: SuperNet, split: BilevelSplit, epochs: int, batch_size: int, seed: int
    ) -> None:
        """Fresh per-search state: alpha, its optimizer, the architecture batches."""
        self.supernet_ = supernet
        self.split_ = split
        self.batch_size_ = batch_size
        self.seed_ = seed
        self.started_ = time.perf_counter()
        self.epochs_ = epochs
        self.generator_ = torch.Generator().manual_seed(seed)
        labels = self._arch_labels(supernet)
        sizes = [supernet.num_choices[label] for label in labels]
        noise = self.alpha_init * torch.randn(sum(sizes), generator=self.generator_)
        device = model_device(supernet)
        self.alpha_: Alpha = {
            label: part.to(device, copy=True).requires_grad_()
            for label, part in zip(labels, torch.split(noise, sizes), strict=True)
        }
        self.exclude_mask_ = self._exclude_masks(supernet, labels)
        self.arch_optimizer_ = torch.optim.Adam(
            list(self.alpha_.values()),
            lr=self.arch_lr,
            betas=self.arch_betas,
            weight_decay=self.arch_weight_decay,
        )
        transform = None
        if self.augment and self.augments_arch_batches:
            generator = torch.Generator().manual_seed(seed + ARCH_AUGMENT_SEED)
            audio = is_audio(split.weights_task)
            transform = partial(augment_batch, generator=generator, audio=audio)
        self.arch_batches_ = BatchStream(
            split.x_arch, split.y_arch, batch_size, self.generator_, transform
        )
        self.steps_per_epoch_ = math.ceil(len(split.weights_task.y_train) / batch_size)
        self.recorder_ = DiagnosticsRecorder(
            choices_of(supernet, labels), arch_choices=choices_of(supernet, supernet.labels)
        )
        self._arch_losses: list[float] = []
        self.latency_penalty_: LatencyPenalty | None = None
        self.expected_latency_: list[float] = []
        if (
            self.latency_in_loss
            and self.latency_table is not None
            and self.latency_target is not None
        ):
            expected = ExpectedLatency(
                self.space, self.latency_table, supernet.input_shape, supernet.num_classes
            )
            self.latency_penalty_ = LatencyPenalty(
                expected, self.latency_target, self.latency_weight
            )
            lowest = expected.lowest(supernet.current_values())
            if lowest > self.latency_target:
                raise OneShotError(
                    f"{self.name} cannot reach latency_ms <= {self.latency_target:g}: it "
                    "searches kernels, SE and activation at the largest widths, depths and "
                    f"expansions, where the fastest choice is predicted {lowest:.3g} ms; "
                    "raise the target or use spos, which searches them all"
                )

    # -- hooks -------------------------------------------------------------------------
    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        self._arch_losses = []
        self.warming_up_ = epoch < self._warmup(self.epochs_)

    def _warmup(self, epochs: int) -> int:
        """The epochs without architecture steps in a search of ``epochs``."""
        return self.warmup_epochs

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        if not self.warming_up_:
            self._arch_step(x, y)
        self._use_weight_mode()

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        if (step + 1) % self.steps_per_epoch_ == 0:
            self._before_validation()

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> None:
        self.monitor_.on_epoch(metrics, self._record_epoch())

    def should_stop(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> str | None:
        limit = self.max_seconds_
        if limit is not None and time.perf_counter() - self.started_ >= limit:
            return f"time limit: {limit:g} s reached after epoch {epoch}"
        return None

    def on_fit_end(self, model: nn.Module, report: TrainReport) -> None:
        self.arch_ = self._select_arch()

    # -- what a method defines ---------------------------------------------------------
    def _arch_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The architecture step before the weight step on ``x, y``: by default one Adam
        step on alpha with `_arch_gradient` on a batch of the architecture half."""
        x_arch, y_arch = self.arch_batches_.next()
        device = x.device
        x_arch, y_arch = self._layout(x_arch).to(device), y_arch.to(device)
        self.arch_optimizer_.zero_grad(set_to_none=True)
        with autocast(device, self.precision_):
            gradient, loss = self._arch_gradient(x, y, x_arch, y_arch)
        if self.latency_penalty_ is not None:
            penalty, expected = self.latency_penalty_(
                self._logits(), self.supernet_.current_values()
            )
            extra = gradients(penalty, self.alpha_)
            gradient = {label: gradient[label] + extra[label] for label in gradient}
            self.expected_latency_.append(expected)
        for label, tensor in self.alpha_.items():
            tensor.grad = gradient[label]
        self.arch_optimizer_.step()
        self._arch_losses.append(loss)

    def _before_validation(self) -> None:
        """After the epoch's last weight step: set the mode the trainer validates in."""
        self._use_eval_mode()

    def _record_epoch(self) -> Arch | None:
        """Record the epoch's point of the diagnostics; return the current argmax arch."""
        losses = self._arch_losses
        mean_loss = float(np.mean(losses)) if losses else float("nan")
        arch = self._argmax_arch()
        self.recorder_.record(self._logits(), arch, mean_loss)
        return arch

    def _logits(self) -> Alpha:
        """alpha with the candidates of ``exclude_ops`` at -inf: no weight, never sampled."""
        if not self.exclude_ops:
            return dict(self.alpha_)
        return {label: a + self.exclude_mask_[label] for label, a in self.alpha_.items()}

    def _argmax_arch(self) -> Arch:
        """The strongest candidate of every decision, without those in ``exclude_ops``, or
        what the space's own rule derives from the weights (`SearchSpace.derive`)."""
        weights = {
            label: logits.detach().softmax(0).tolist() for label, logits in self._logits().items()
        }
        derived = self.space.derive(weights)
        if derived is not None:
            return derived
        return self.supernet_.argmax_arch(self.alpha_, exclude=self.exclude_ops)

    def _select_arch(self) -> Arch:
        """The found arch, once training has ended: the argmax of alpha by default."""
        return self._argmax_arch()

    def _path_scorer(self, examples: int, calibration: int) -> PathScorer:
        """Scores paths on (up to) ``examples`` of the architecture half, with BatchNorm
        statistics recomputed on ``calibration`` batches of the weights' half (see
        `PathScorer`); both sets are fixed by the seed."""
        split, seed = self.split_, self.seed_
        order = torch.randperm(len(split.y_arch), generator=torch.Generator().manual_seed(seed))
        chosen = order[:examples]
        batches = calibration_batches(
            split.weights_task.x_train, self.batch_size_, calibration, seed + 1
        )
        return PathScorer(
            self.supernet_,
            self._layout(split.x_arch[chosen]),
            split.y_arch[chosen],
            [self._layout(b) for b in batches] if calibration > 0 else [],
        )

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the memory format the supernet trains in."""
        if self.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _arch_gradient(
        self, x: torch.Tensor, y: torch.Tensor, x_arch: torch.Tensor, y_arch: torch.Tensor
    ) -> tuple[Alpha, float]:
        """The gradient for alpha and the architecture loss; first order by default (the
        weight step's batch ``x, y`` is unused). A loss that does not depend on alpha (a
        GDAS path of ``none`` ops into the output) gives a zero gradient."""
        loss = self._arch_loss(x_arch, y_arch)
        return gradients(loss, self.alpha_), float(loss.detach())

    def _arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Set the supernet's mode for an architecture step and return the loss on ``x, y``
        (differentiable in alpha); the gradient methods define it."""
        raise NotImplementedError(f"{self.name} has no differentiable architecture loss")

    @abstractmethod
    def _use_weight_mode(self) -> None:
        """Set the supernet's mode for the weight step (no gradient to alpha)."""

    def _use_eval_mode(self) -> None:
        """The mode the trainer validates in: the argmax arch's single path by default."""
        self.supernet_.use_path(self._argmax_arch())
