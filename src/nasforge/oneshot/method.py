"""`OneShotMethod`: a one-shot search's options, its supernet, the memory check before
training and the run of the shared `Trainer` with the method as its hooks (`SearchSteps`,
`nasforge.oneshot.steps`, holds the hooks and what each method defines)."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from nasforge.data.task import Task
from nasforge.device import fit_device, resolve_precision
from nasforge.errors import SpaceError
from nasforge.measure.latency_table import LatencyTable
from nasforge.oneshot.bilevel import split_for_bilevel
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.latency_loss import mobilenet_space
from nasforge.oneshot.memory import (
    PROCESS_OVERHEAD,
    MemoryEstimate,
    Probe,
    available_memory,
    estimate_memory,
    format_bytes,
)
from nasforge.oneshot.result import OneShotResult, SearchMonitor
from nasforge.oneshot.steps import SearchSteps
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace
from nasforge.training import TrainConfig, Trainer, TrainerHooks

PARTIAL_CHANNEL_OPTIONS = (2, 4, 8)


SGD_ETA_MIN = 0.001
"""Where SGD's cosine schedule ends by default (DARTS's and GDAS's ``eta_min``)."""
ADAMW_ETA_MIN_SHARE = 0.01
"""Where AdamW's cosine schedule ends by default, as a share of ``lr`` (AutoFormer: 1e-5
from 1e-3)."""


def require_op_choices(space: SearchSpace) -> None:
    """Refuse a space without op choices: a one-shot method has nothing to mix or sample."""
    if not space.op_decisions():
        labels = ", ".join(d.label for d in space.decisions) or "none"
        raise OneShotError(
            f"space {space.name!r} has no op choices (its decisions are {labels}); "
            "one-shot methods need a space whose decisions choose operations, e.g. nb201"
        )


class OneShotMethod(SearchSteps):
    """Base class of one-shot methods; the hook order is in `nasforge.oneshot.steps`.

    Weight training: SGD (momentum 0.9, Nesterov, as in NAS-Bench-201's search configs), or
    AdamW with ``optimizer="adamw"`` (as AutoFormer trains Transformer supernets), ``lr``
    cosine-annealed per step to ``eta_min`` (SGD: 0.001, as DARTS's and GDAS's
    ``CosineAnnealingLR(optimizer, epochs, eta_min=0.001)``; AdamW: ``lr / 100``, as
    AutoFormer's 1e-5 from 1e-3, so that AdamW's usual lr of 1e-3 is annealed rather than
    held constant), ``weight_decay``, gradient
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
        eta_min: float | None = None,
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
        if eta_min is None:
            eta_min = ADAMW_ETA_MIN_SHARE * lr if optimizer == "adamw" else SGD_ETA_MIN
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
