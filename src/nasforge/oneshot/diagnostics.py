"""What a one-shot search reports besides its arch: how the architecture choice evolved.

One point per epoch (``unit == "epoch"``): the architecture distribution (softmax of alpha
per edge for DARTS and GDAS, the controller's per-edge op probabilities for ENAS), its
argmax arch, the share of skip connections in it (DARTS collapses towards skips), the
entropy of every edge's op distribution (in nats; ``log(num_ops)`` is uniform, 0 is one-hot),
the mean loss of the architecture steps and a score (ENAS: the mean reward, i.e. accuracy,
of the epoch's sampled paths; nan where a method has none).

SPOS decides nothing while it trains (it samples paths uniformly), so its points are the
generations of the evolution that follows (``unit == "generation"``): the op frequencies of
the population, the best arch so far, its loss and score (validation accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from nasforge.arch import Arch
from nasforge.oneshot.supernet import SKIP_OP

FloatArray = npt.NDArray[np.float64]


def op_probabilities(alpha: torch.Tensor) -> FloatArray:
    """Softmax of ``alpha`` over ops, per edge, as float64 ``(edges, ops)``."""
    probabilities: FloatArray = torch.softmax(alpha.detach().double(), dim=-1).cpu().numpy()
    return probabilities


def op_entropy(probabilities: npt.ArrayLike) -> FloatArray:
    """Entropy (nats) of each row of ``probabilities`` (the last axis sums to 1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    entropy: FloatArray = -(p * logs).sum(axis=-1)
    return entropy


def skip_share(arch: Arch, labels: tuple[str, ...]) -> float:
    """The share of ``labels`` (edges) whose op in ``arch`` is a skip connection."""
    return sum(arch[label] == SKIP_OP for label in labels) / len(labels)


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of a search, one point per epoch (or generation: see ``unit``); arrays
    have the points on axis 0."""

    labels: tuple[str, ...]
    op_names: tuple[str, ...]
    weights: FloatArray  # (points, edges, ops): the architecture distribution at each point
    archs: tuple[Arch, ...]  # the argmax (SPOS: best) arch at each point
    skip_share: FloatArray  # (points,)
    entropy: FloatArray  # (points, edges)
    arch_loss: FloatArray  # (points,): mean loss of the architecture steps (SPOS: the best's)
    score: FloatArray = field(default_factory=lambda: np.zeros(0))  # (points,) or nan
    unit: str = "epoch"  # what a point is: "epoch" or "generation"
    mean_entropy: FloatArray = field(init=False)  # (points,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_entropy", self.entropy.mean(axis=-1))
        if len(self.score) != len(self.archs):
            object.__setattr__(self, "score", np.full(len(self.archs), np.nan))

    @property
    def points(self) -> int:
        """Points recorded: epochs, or generations for SPOS (``unit``)."""
        return len(self.archs)

    @property
    def epochs(self) -> int:
        """Points recorded (named for the per-epoch methods; see `points`)."""
        return len(self.archs)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and strings, for JSON."""
        return {
            "labels": list(self.labels),
            "op_names": list(self.op_names),
            "weights": self.weights.tolist(),
            "archs": [str(arch) for arch in self.archs],
            "skip_share": self.skip_share.tolist(),
            "entropy": self.entropy.tolist(),
            "arch_loss": self.arch_loss.tolist(),
            "score": [None if np.isnan(v) else float(v) for v in self.score],
            "unit": self.unit,
        }


class DiagnosticsRecorder:
    """Collects one point per epoch (or generation); `result` turns them into `Diagnostics`."""

    def __init__(
        self, labels: tuple[str, ...], op_names: tuple[str, ...], unit: str = "epoch"
    ) -> None:
        self.labels, self.op_names, self.unit = labels, op_names, unit
        self.weights: list[FloatArray] = []
        self.archs: list[Arch] = []
        self.arch_loss: list[float] = []
        self.scores: list[float] = []

    def record(
        self, alpha: torch.Tensor, arch: Arch, arch_loss: float, score: float = float("nan")
    ) -> None:
        """A point whose distribution is softmax(``alpha``) per edge."""
        self.record_distribution(op_probabilities(alpha), arch, arch_loss, score)

    def record_distribution(
        self,
        probabilities: npt.ArrayLike,
        arch: Arch,
        arch_loss: float,
        score: float = float("nan"),
    ) -> None:
        """A point whose distribution is ``probabilities`` (edges, ops; rows sum to 1)."""
        self.weights.append(np.asarray(probabilities, dtype=np.float64))
        self.archs.append(arch)
        self.arch_loss.append(arch_loss)
        self.scores.append(score)

    def result(self) -> Diagnostics:
        shape = (0, len(self.labels), len(self.op_names))
        weights = np.stack(self.weights) if self.weights else np.zeros(shape)
        return Diagnostics(
            labels=self.labels,
            op_names=self.op_names,
            weights=weights,
            archs=tuple(self.archs),
            skip_share=np.array([skip_share(a, self.labels) for a in self.archs], np.float64),
            entropy=op_entropy(weights),
            arch_loss=np.array(self.arch_loss, dtype=np.float64),
            score=np.array(self.scores, dtype=np.float64),
            unit=self.unit,
        )
