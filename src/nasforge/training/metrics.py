"""What a fit measured: `EpochMetrics` (one point of the learning curve) and `TrainReport`
(the curve, the accuracies, the time and how the fit ended)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nasforge.status import Status


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
