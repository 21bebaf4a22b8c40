"""What a one-shot search gives back (`OneShotResult`) and whom it tells of its progress
(`SearchMonitor`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.errors import SpaceError
from nasforge.oneshot.calibration import calibration_batches, recalibrate_batchnorm
from nasforge.oneshot.diagnostics import Diagnostics
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.memory import (
    MemoryEstimate,
)
from nasforge.oneshot.supernet import SuperNet
from nasforge.training import EpochMetrics, TrainReport


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
