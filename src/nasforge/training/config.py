"""`TrainConfig`: what one fit of the `Trainer` does (epochs, optimizer, schedule, augmentation,
device and precision), checked when made."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasforge.device import (
    check_device_name,
    check_precision_name,
)
from nasforge.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, regularization, limits and the seed.

    ``optimizer`` is ``"sgd"`` (Nesterov momentum 0.9) or ``"adamw"``; ``cosine`` anneals the
    learning rate per step to ``eta_min`` (0 by default; DARTS and GDAS anneal to 0.001, as
    torch's ``CosineAnnealingLR(optimizer, epochs, eta_min)``) over ``epochs``. ``augment``
    (``None``, the default: on for audio tasks' log-mel sequences only, `default_augment`)
    randomly crops (zero padding of 1/8 of the size) and flips images at least 16 pixels
    high, and masks one band of frequencies and one span of time of an audio task's log-mel
    spectrograms (SpecAugment: up to a fifth of each, at most 8 bands and 20 frames); other
    inputs are left as they are. ``speaker_augment`` (with ``augment``) first warps an audio
    task's spectrograms as another speaker might say them (VTLP of the mel axis and a speed
    change, factors ~ U(0.9, 1.1): `nasforge.training.speaker_augment`); off by default: on FSDD
    with a speaker held out it did not beat SpecAugment alone (docs/benchmarks.md). ``threads``
    sets torch's thread count during the fit (``None`` keeps it).
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
    augment: bool | None = None
    speaker_augment: bool = False
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
