"""`OneShotMethod`: a one-shot search as hooks on the shared `Trainer`.

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
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Arch
from nasforge.data.task import Task
from nasforge.device import autocast, fit_device, resolve_precision
from nasforge.errors import SpaceError
from nasforge.measure.latency import model_device
from nasforge.measure.latency_table import LatencyTable
from nasforge.oneshot.bilevel import BatchStream, BilevelSplit, split_for_bilevel
from nasforge.oneshot.calibration import calibration_batches, recalibrate_batchnorm
from nasforge.oneshot.diagnostics import Diagnostics, DiagnosticsRecorder
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.latency_loss import ExpectedLatency, LatencyPenalty, mobilenet_space
from nasforge.oneshot.memory import (
    PROCESS_OVERHEAD,
    MemoryEstimate,
    Probe,
    available_memory,
    estimate_memory,
    format_bytes,
)
from nasforge.oneshot.sampling import PathScorer
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace
from nasforge.space.choices import ChoiceDecision
from nasforge.training import EpochMetrics, TrainConfig, Trainer, TrainerHooks, TrainReport
from nasforge.training.trainer import augment_batch, is_audio

PARTIAL_CHANNEL_OPTIONS = (2, 4, 8)
ARCH_AUGMENT_SEED = 2
"""Offset of the seed of the architecture batches' augmentation (``seed + 1`` draws the
BatchNorm calibration batches)."""


def require_op_choices(space: SearchSpace) -> None:
    """Refuse a space without op choices: a one-shot method has nothing to mix or sample."""
    if not space.op_decisions():
        labels = ", ".join(d.label for d in space.decisions) or "none"
        raise OneShotError(
            f"space {space.name!r} has no op choices (its decisions are {labels}); "
            "one-shot methods need a space whose decisions choose operations, e.g. nb201"
        )


class SearchMonitor:
    """No-op callbacks on a search's progress (e.g. for a progress bar); override any."""

    def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
        """After the memory check, before the first epoch."""

    def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
        """After each epoch, with its learning-curve point and the current argmax arch
        (None while a method decides nothing, as SPOS while it trains)."""

    def on_generation(self, generation: int, generations: int, score: float, arch: Arch) -> None:
        """After each generation of a search on the trained supernet (SPOS's evolution)."""


@dataclass(frozen=True, eq=False)
class OneShotResult:
    """The found arch, the trained supernet and what happened.

    The arch is the argmax of alpha per decision for the gradient methods; ENAS and SPOS pick
    the path the trained supernet scores best among candidates (see their modules)."""

    arch: Arch
    supernet: SuperNet  # left in single-path mode on ``arch``
    # the final architecture parameters, one vector per decision: the gradient methods' for
    # the module and input choices; ENAS's (every decision) are the log of its controller's
    # probabilities; SPOS has none (zeros)
    alpha: dict[str, npt.NDArray[np.float32]]
    diagnostics: Diagnostics
    report: TrainReport  # the weight training (learning curve of the supernet)
    memory: MemoryEstimate  # the estimate checked before training
    # decisions the method did not search, left at their largest value: the value choices
    # (widths, kernels, depths) for the gradient methods, whose weights cannot mix them
    not_searched: tuple[str, ...] = ()
    # with a latency table: the found arch's predicted latency (ms), and for the gradient
    # methods the expected latency of their mixture at each architecture step
    latency_ms: float | None = None
    expected_latency: tuple[float, ...] = ()

    @property
    def supernet_state(self) -> dict[str, torch.Tensor]:
        """The supernet's weights (``state_dict``)."""
        return self.supernet.state_dict()

    def child(
        self,
        calibrate_on: npt.ArrayLike | torch.Tensor | None = None,
        *,
        batch_size: int = 64,
        seed: int = 0,
    ) -> nn.Module:
        """The plain network of ``arch`` with the supernet's weights for it (to fine-tune).

        With ``calibrate_on`` (training inputs), the child's BatchNorm running statistics
        are recomputed on them (see `calibration`): the supernet's are shared by all paths
        or not kept at all, so a child used in eval mode needs its own."""
        try:
            child = self.supernet.child(self.arch)
        except SpaceError as exc:
            raise OneShotError(str(exc)) from None
        if calibrate_on is not None:
            inputs = torch.tensor(np.array(calibrate_on, dtype=np.float32))
            count = math.ceil(len(inputs) / batch_size)
            recalibrate_batchnorm(child, calibration_batches(inputs, batch_size, count, seed))
        return child


class OneShotMethod(TrainerHooks, ABC):
    """Base class of one-shot methods; see the module docstring for the hook order.

    Weight training: SGD (momentum 0.9, Nesterov, as in NAS-Bench-201's search configs), or
    AdamW with ``optimizer="adamw"`` (as AutoFormer trains Transformer supernets), ``lr``
    cosine-annealed per step to ``eta_min`` (0.001, as DARTS's and GDAS's
    ``CosineAnnealingLR(optimizer, epochs, eta_min=0.001)``), ``weight_decay``, gradient
    norm clipped at ``grad_clip``.
    Architecture: Adam(``arch_lr``, betas ``arch_betas``, ``arch_weight_decay``) on alpha,
    one vector per decision (`Alpha`), initialized as ``alpha_init`` times standard normal
    noise. For the first
    ``warmup_epochs`` the architecture does not learn (no alpha step, no controller update):
    only the weights train, on paths or mixtures of the initial distribution. The candidates
    named in ``exclude_ops`` are left out of the search (weight zero in mixtures, never
    sampled, never chosen): ``exclude_ops="none"`` searches cells in which every edge
    computes.
    ``partial_channels``, ``affine`` and ``track_running_stats`` (None: the method's
    default) configure the supernet; ``channels_last`` (images only) is about 15% faster
    on CPU. ``augment`` applies to the weights' batches and to the architecture steps'
    batches (DARTS and GDAS augment both halves), drawn from a generator of their own;
    ENAS's rewards and SPOS's scores are measured on the architecture half as it is.
    """

    name = "oneshot"
    default_track_running_stats = True
    uses_partial_channels = True  # whether partial channels reduce this method's memory
    # paths sampled over every choice of every decision (value choices too): exclude_ops and
    # partial channels refused
    samples_every_op = False
    # whether a latency table and target can steer the method (see the class docstring),
    # and whether through the architecture loss (else the method uses them itself)
    supports_latency = True
    latency_in_loss = True
    # whether ``augment`` applies to the architecture half's batches too (as in DARTS)
    augments_arch_batches = True
    # the share of the training set held out for the architecture (`split_for_bilevel`)
    default_arch_share = 0.5
    # the precision of the search under way (`search` sets it)
    precision_ = "fp32"

    def __init__(
        self,
        space: SearchSpace,
        *,
        lr: float = 0.025,
        eta_min: float = 0.001,
        weight_decay: float = 3e-4,
        grad_clip: float | None = 5.0,
        arch_lr: float = 3e-4,
        arch_betas: tuple[float, float] = (0.5, 0.999),
        arch_weight_decay: float = 1e-3,
        alpha_init: float = 1e-3,
        warmup_epochs: int = 0,
        exclude_ops: Sequence[str] | str = (),
        partial_channels: int = 1,
        affine: bool = False,
        track_running_stats: bool | None = None,
        augment: bool = False,
        channels_last: bool = True,
        latency_table: LatencyTable | None = None,
        latency_target: float | None = None,
        latency_weight: float = 0.5,
        optimizer: str = "sgd",
        arch_share: float | None = None,
    ) -> None:
        self.space = space
        share = self.default_arch_share if arch_share is None else arch_share
        if not (isinstance(share, int | float) and 0.0 < share <= 0.5):
            raise OneShotError(f"arch_share must lie in (0, 0.5], not {arch_share}")
        self.arch_share = arch_share
        if optimizer not in ("sgd", "adamw"):
            raise OneShotError(f"optimizer must be 'sgd' or 'adamw', not {optimizer!r}")
        self.optimizer = optimizer
        self.lr = lr
        self.eta_min = eta_min
        if not (math.isfinite(eta_min) and 0 <= eta_min <= lr):
            raise OneShotError(f"eta_min must lie in [0, lr] = [0, {lr:g}], not {eta_min}")
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.arch_lr = arch_lr
        self.arch_betas = arch_betas
        self.arch_weight_decay = arch_weight_decay
        self.alpha_init = alpha_init
        self.warmup_epochs = warmup_epochs
        self.exclude_ops = (exclude_ops,) if isinstance(exclude_ops, str) else tuple(exclude_ops)
        self.partial_channels = partial_channels
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.augment = augment
        self.channels_last = channels_last
        if warmup_epochs < 0:
            raise OneShotError(f"warmup_epochs must be >= 0, not {warmup_epochs}")
        if partial_channels < 1:
            raise OneShotError(f"partial_channels must be >= 1, not {partial_channels}")
        if self.samples_every_op:
            self._refuse_path_sampling_options()
        self.latency_table = latency_table
        self.latency_target = latency_target
        self.latency_weight = latency_weight
        if (latency_table is None) != (latency_target is None):
            raise OneShotError("a latency term needs both a latency table and a latency target")
        if latency_target is not None and not latency_target > 0:
            raise OneShotError(f"latency target must be > 0 ms, not {latency_target}")
        if not latency_weight >= 0:
            raise OneShotError(f"latency weight must be >= 0, not {latency_weight}")
        if latency_table is not None:
            if not isinstance(latency_table, LatencyTable):
                raise OneShotError(
                    "latency_table must be a LatencyTable (the CLI's --latency-table FILE)"
                )
            mobilenet_space(space)
            if not self.supports_latency:
                raise OneShotError(
                    f"{self.name} has no latency term; use spos or a DARTS-family method"
                )

    @property
    def arch_share_value(self) -> float:
        """The share of the training set held out for the architecture: ``arch_share``, or
        the method's default (half for the bilevel methods, 0.1 for SPOS and ENAS)."""
        return self.default_arch_share if self.arch_share is None else self.arch_share

    @property
    def state_copies(self) -> int:
        """Copies of the parameters a step keeps: weights, gradients, momentum."""
        return 3

    @property
    def process_overhead(self) -> float:
        """Process memory over the tensors' peak (measured; see `nasforge.oneshot.memory`)."""
        return PROCESS_OVERHEAD

    # -- the search ----------------------------------------------------------------------
    def search(
        self,
        task: Task,
        *,
        epochs: int = 50,
        batch_size: int = 64,
        seed: int = 0,
        threads: int | None = None,
        memory_limit: float | None = None,
        max_seconds: float | None = None,
        monitor: SearchMonitor | None = None,
        hooks: Sequence[TrainerHooks] = (),
        device: str = "auto",
        precision: str = "auto",
    ) -> OneShotResult:
        """Search ``task`` for ``epochs`` over the weights' half of its training data.

        The supernet, the architecture weights and every batch live on ``device`` (``auto``:
        a GPU if torch sees one); weight and architecture steps run in ``precision``
        (`nasforge.device`). The memory check before training estimates the host's memory
        (a step on the CPU), not a GPU's.

        ``memory_limit`` (bytes) defaults to the machine's available memory; a step whose
        estimated peak exceeds it is refused before training, naming a batch size that fits.
        ``max_seconds`` ends training after the epoch during which it is reached (the arch
        is then chosen as after the last epoch). ``monitor`` hears of the progress; ``hooks``
        join the trainer after the method's own (e.g. to time steps).
        """
        if epochs < 1:
            raise OneShotError(f"epochs must be >= 1, not {epochs}")
        if max_seconds is not None and not max_seconds > 0:
            raise OneShotError(f"max_seconds must be > 0, not {max_seconds}")
        placed = fit_device(device)
        self.precision_ = resolve_precision(precision, placed)
        supernet = self.build_supernet(task, seed)
        self._exclude_masks(supernet, self._arch_labels(supernet))  # checks exclude_ops
        split = split_for_bilevel(task, batch_size, seed, self.arch_share_value)
        torch.set_flush_denormal(True)
        memory = self._check_memory(supernet, task, batch_size, seed, memory_limit)
        supernet.to(placed)
        self.monitor_ = monitor if monitor is not None else SearchMonitor()
        self.max_seconds_ = max_seconds
        self._start(supernet, split, epochs, batch_size, seed)
        self.monitor_.on_start(memory, epochs)
        config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            cosine=True,
            eta_min=self.eta_min,
            grad_clip=self.grad_clip,
            augment=self.augment,
            threads=threads,
            seed=seed,
            device=str(placed),
            precision=self.precision_,
            channels_last=self.channels_last,
            # The validation passes run the supernet as it trains (all candidates mixed, for
            # the gradient methods): at the trainer's default batch of 1024 such a pass took
            # 1.8 GB more than the training step (darts, C=8, 5 cells, batch 64: resident 4.8
            # GB where the steps took 3.0), and the memory check does not count it. A pass
            # without gradients at the training batch holds less than the step, and was
            # faster (15.4 s against 46.6 s for 1,024 images: benchmarks/oneshot_memory.py).
            eval_batch_size=batch_size,
        )
        self.trainer_ = Trainer(config, hooks=[self, *hooks])
        report = self.trainer_.fit(supernet, split.weights_task)
        supernet.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        arch = self.arch_
        supernet.use_path(arch)
        return OneShotResult(
            arch=arch,
            supernet=supernet,
            alpha={k: v.detach().cpu().numpy().copy() for k, v in self.alpha_.items()},
            diagnostics=self.recorder_.result(),
            report=report,
            memory=memory,
            not_searched=tuple(
                label for label in supernet.value_labels if label not in self._arch_labels(supernet)
            ),
            latency_ms=None
            if self.latency_table is None
            else self.latency_table.predict(self.space, arch),
            expected_latency=tuple(self.expected_latency_),
        )

    def build_supernet(
        self, task: Task, seed: int, *, partial_channels: int | None = None
    ) -> SuperNet:
        """The space's supernet for ``task``, initialized from ``seed``."""
        require_op_choices(self.space)
        track = self.track_running_stats
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                supernet = self.space.supernet(
                    task.input_shape,
                    task.num_classes,
                    affine=self.affine,
                    track_running_stats=self.default_track_running_stats
                    if track is None
                    else track,
                    partial_channels=self.partial_channels
                    if partial_channels is None
                    else partial_channels,
                )
            except SpaceError as exc:
                raise OneShotError(str(exc)) from None
        if not isinstance(supernet, SuperNet):
            raise OneShotError(
                f"space {self.space.name!r} built a {type(supernet).__name__}, not a ChoiceSuperNet"
            )
        return supernet

    def _arch_labels(self, supernet: SuperNet) -> tuple[str, ...]:
        """The decisions the method holds architecture weights for: the module and input
        choices, or every decision for methods that sample paths over all of them."""
        return supernet.labels if self.samples_every_op else supernet.mixed_labels

    def _exclude_masks(self, supernet: SuperNet, labels: Sequence[str]) -> Alpha:
        """Per decision, 0 for a candidate and -inf for one named in ``exclude_ops``."""
        exclude, known, masks = set(self.exclude_ops), set[object](), {}
        for decision in _decisions_of(supernet):
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
            _choices_of(supernet, labels), arch_choices=_choices_of(supernet, supernet.labels)
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

    def _refuse_path_sampling_options(self) -> None:
        """Methods that sample paths over every op (``samples_every_op``: ENAS, SPOS)
        neither leave ops out nor use partial channels."""
        if self.exclude_ops:
            raise OneShotError(
                f"{self.name} samples paths over every op; exclude_ops applies to darts, "
                "darts2, gdas and beta-darts"
            )
        if self.partial_channels != 1:
            raise OneShotError(
                f"{self.name} trains one path per step; partial channels (PC-DARTS) only "
                "reduce the memory of mixed ops: drop partial_channels"
            )

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

    @abstractmethod
    def _memory_probes(self, supernet: SuperNet, alpha: Alpha) -> Sequence[Probe]:
        """Forward passes of a training step, for the memory estimate (the largest counts)."""

    # -- memory --------------------------------------------------------------------------
    def estimate_memory(self, supernet: SuperNet, task: Task, batch_size: int) -> MemoryEstimate:
        """The measured estimate of a training step's peak memory at ``batch_size`` (the
        supernet's mode and BatchNorm statistics are left as they were)."""
        alpha = {
            label: torch.zeros(supernet.num_choices[label], requires_grad=True)
            for label in self._arch_labels(supernet)
        }
        mode = (supernet.mode.weights, supernet.mode.path, supernet.mode.add_unselected)
        try:
            return estimate_memory(
                supernet,
                self._memory_probes(supernet, alpha),
                task.input_shape,
                task.num_classes,
                batch_size,
                self.state_copies,
                process_overhead=self.process_overhead,
            )
        finally:
            supernet.mode.weights, supernet.mode.path, supernet.mode.add_unselected = mode

    def _check_memory(
        self,
        supernet: SuperNet,
        task: Task,
        batch_size: int,
        seed: int,
        limit: float | None,
    ) -> MemoryEstimate:
        estimate = self.estimate_memory(supernet, task, batch_size)
        source = "the limit"
        if limit is None:
            limit, source = available_memory(), "the available memory"
        if limit is None or estimate.total_bytes <= limit:
            return estimate
        fits = estimate.largest_batch(limit)
        options = []
        if fits >= 1:
            options.append(f"batch_size={min(fits, batch_size - 1)} fits")
        partial = self._partial_channels_that_fit(task, batch_size, seed, limit)
        if partial is not None:
            options.append(f"partial_channels={partial} fits at batch_size={batch_size}")
        advice = " or ".join(options) if options else "use a smaller space or more memory"
        raise OneShotError(
            f"{self.name} needs about {format_bytes(estimate.total_bytes)} at "
            f"batch_size={batch_size}, more than {source} ({format_bytes(limit)}): {advice}"
        )

    def _partial_channels_that_fit(
        self, task: Task, batch_size: int, seed: int, limit: float
    ) -> int | None:
        if not self.uses_partial_channels:
            return None
        for k in PARTIAL_CHANNEL_OPTIONS:
            if k <= self.partial_channels:
                continue
            try:
                supernet = self.build_supernet(task, seed, partial_channels=k)
            except OneShotError:  # k does not divide the channels
                continue
            if self.estimate_memory(supernet, task, batch_size).total_bytes <= limit:
                return k
        return None

    def _cross_entropy(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self.supernet_(x), y)


def gradients(loss: torch.Tensor, alpha: Alpha) -> Alpha:
    """The gradient of ``loss`` in each vector of ``alpha`` (zeros where it has none)."""
    grads = torch.autograd.grad(loss, list(alpha.values()), allow_unused=True)
    return {
        label: torch.zeros_like(tensor) if grad is None else grad
        for (label, tensor), grad in zip(alpha.items(), grads, strict=True)
    }


def _choices_of(supernet: SuperNet, labels: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The candidates of each decision in ``labels``, as text (for diagnostics): the space's
    decisions and those only the supernet asks (the darts space's per-edge op vectors)."""
    return {
        d.label: tuple(str(c) for c in d.choices)
        for d in _decisions_of(supernet)
        if d.label in labels
    }


def _decisions_of(supernet: SuperNet) -> tuple[ChoiceDecision, ...]:
    """The space's decisions and those only the supernet asks (the darts space's per-edge op
    vectors, which the gradient methods weight)."""
    return (*supernet.decisions, *supernet.search_decisions)
