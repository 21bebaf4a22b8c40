"""What a one-shot search reports besides its arch: how the architecture choice evolved.

One point per epoch (``unit == "epoch"``): the architecture distribution of every decision
the method weights (softmax of its alpha vector for DARTS and GDAS, the controller's
probabilities for ENAS), its argmax arch, the share of skip connections among the decisions
that offer one (DARTS collapses towards skips; nan where none does), the entropy of every
decision's distribution (in nats; ``log(num_choices)`` is uniform, 0 is one-hot), the mean
loss of the architecture steps and a score (ENAS: the mean reward, i.e. accuracy, of the
epoch's sampled paths; nan where a method has none).

SPOS decides nothing while it trains (it samples paths uniformly), so its points are the
generations of the evolution that follows (``unit == "generation"``): the choice
frequencies of the population, the best arch so far, its loss and score (validation
accuracy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from nasforge.arch import Arch
from nasforge.oneshot.supernet import SKIP_OP

FloatArray = npt.NDArray[np.float64]


def op_probabilities(alpha: Mapping[str, torch.Tensor]) -> dict[str, FloatArray]:
    """Softmax of each vector of ``alpha``, as float64."""
    return {
        label: torch.softmax(vector.detach().double(), dim=-1).cpu().numpy()
        for label, vector in alpha.items()
    }


def op_entropy(probabilities: npt.ArrayLike) -> FloatArray:
    """Entropy (nats) of each row of ``probabilities`` (the last axis sums to 1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    logs = np.log(np.where(p > 0, p, 1.0))
    entropy: FloatArray = -(p * logs).sum(axis=-1)
    return entropy


def skip_share(arch: Arch, choices: Mapping[str, tuple[str, ...]]) -> float:
    """The share of the decisions offering a skip connection whose choice in ``arch`` is one
    (nan if no decision offers one)."""
    offering = [label for label, names in choices.items() if SKIP_OP in names]
    if not offering:
        return float("nan")
    return sum(arch.get(label) == SKIP_OP for label in offering) / len(offering)


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of a search, one point per epoch (or generation: see ``unit``); arrays
    have the points on axis 0."""

    choices: dict[str, tuple[str, ...]]  # the decisions recorded and their candidates
    weights: dict[str, FloatArray]  # label -> (points, choices): the distribution per point
    archs: tuple[Arch, ...]  # the argmax (SPOS: best) arch at each point
    skip_share: FloatArray  # (points,)
    entropy: FloatArray  # (points, decisions), decisions in the order of ``labels``
    arch_loss: FloatArray  # (points,): mean loss of the architecture steps (SPOS: the best's)
    score: FloatArray = field(default_factory=lambda: np.zeros(0))  # (points,) or nan
    unit: str = "epoch"  # what a point is: "epoch" or "generation"
    mean_entropy: FloatArray = field(init=False)  # (points,)

    def __post_init__(self) -> None:
        entropy = self.entropy.mean(axis=-1) if self.entropy.shape[-1] else np.zeros(self.points)
        object.__setattr__(self, "mean_entropy", entropy)
        if len(self.score) != len(self.archs):
            object.__setattr__(self, "score", np.full(len(self.archs), np.nan))

    @property
    def labels(self) -> tuple[str, ...]:
        """The decisions recorded."""
        return tuple(self.choices)

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
            "choices": {label: list(names) for label, names in self.choices.items()},
            "weights": {label: w.tolist() for label, w in self.weights.items()},
            "archs": [str(arch) for arch in self.archs],
            "skip_share": [None if np.isnan(v) else float(v) for v in self.skip_share],
            "entropy": self.entropy.tolist(),
            "arch_loss": self.arch_loss.tolist(),
            "score": [None if np.isnan(v) else float(v) for v in self.score],
            "unit": self.unit,
        }


class DiagnosticsRecorder:
    """Collects one point per epoch (or generation); `result` turns them into `Diagnostics`.
    ``choices``: the decisions recorded (label -> candidate names); ``arch_choices``: the
    decisions of the archs, whose skip connections are counted (default ``choices``; they
    differ where the method weights a relaxation of the space's decisions, as the darts
    space's per-edge op vectors)."""

    def __init__(
        self,
        choices: Mapping[str, tuple[str, ...]],
        unit: str = "epoch",
        arch_choices: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.choices, self.unit = dict(choices), unit
        self.arch_choices = dict(choices if arch_choices is None else arch_choices)
        self.weights: list[dict[str, FloatArray]] = []
        self.archs: list[Arch] = []
        self.arch_loss: list[float] = []
        self.scores: list[float] = []

    def record(
        self,
        alpha: Mapping[str, torch.Tensor],
        arch: Arch,
        arch_loss: float,
        score: float = float("nan"),
    ) -> None:
        """A point whose distribution is softmax(``alpha``) per decision."""
        self.record_distribution(op_probabilities(alpha), arch, arch_loss, score)

    def record_distribution(
        self,
        probabilities: Mapping[str, npt.ArrayLike],
        arch: Arch,
        arch_loss: float,
        score: float = float("nan"),
    ) -> None:
        """A point whose distribution is ``probabilities`` (label -> vector summing to 1)."""
        self.weights.append(
            {label: np.asarray(probabilities[label], dtype=np.float64) for label in self.choices}
        )
        self.archs.append(arch)
        self.arch_loss.append(arch_loss)
        self.scores.append(score)

    def result(self) -> Diagnostics:
        weights = {
            label: np.stack([point[label] for point in self.weights])
            if self.weights
            else np.zeros((0, len(names)))
            for label, names in self.choices.items()
        }
        entropy = np.zeros((len(self.archs), len(self.choices)))
        for column, label in enumerate(self.choices):
            entropy[:, column] = op_entropy(weights[label])
        return Diagnostics(
            choices=self.choices,
            weights=weights,
            archs=tuple(self.archs),
            skip_share=np.array([skip_share(a, self.arch_choices) for a in self.archs], np.float64),
            entropy=entropy,
            arch_loss=np.array(self.arch_loss, dtype=np.float64),
            score=np.array(self.scores, dtype=np.float64),
            unit=self.unit,
        )
