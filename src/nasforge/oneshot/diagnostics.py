"""What a one-shot search reports besides its arch: how the architecture weights evolved.

Per epoch: the architecture weights as probabilities (softmax of alpha per edge), the argmax
arch, the share of skip connections in it (DARTS collapses towards skips), the entropy of
every edge's op distribution (in nats; ``log(num_ops)`` is uniform, 0 is one-hot) and the
mean loss of the architecture steps.
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
    """Per-epoch diagnostics of a search; arrays have the epochs on axis 0."""

    labels: tuple[str, ...]
    op_names: tuple[str, ...]
    weights: FloatArray  # (epochs, edges, ops): softmax of alpha after each epoch
    archs: tuple[Arch, ...]  # the argmax arch after each epoch
    skip_share: FloatArray  # (epochs,)
    entropy: FloatArray  # (epochs, edges)
    arch_loss: FloatArray  # (epochs,): mean loss of the epoch's architecture steps
    mean_entropy: FloatArray = field(init=False)  # (epochs,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_entropy", self.entropy.mean(axis=-1))

    @property
    def epochs(self) -> int:
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
        }


class DiagnosticsRecorder:
    """Collects one point per epoch; `result` turns them into `Diagnostics`."""

    def __init__(self, labels: tuple[str, ...], op_names: tuple[str, ...]) -> None:
        self.labels, self.op_names = labels, op_names
        self.weights: list[FloatArray] = []
        self.archs: list[Arch] = []
        self.arch_loss: list[float] = []

    def record(self, alpha: torch.Tensor, arch: Arch, arch_loss: float) -> None:
        self.weights.append(op_probabilities(alpha))
        self.archs.append(arch)
        self.arch_loss.append(arch_loss)

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
        )
