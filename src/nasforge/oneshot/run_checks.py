"""Checks of a one-shot run's settings, before any data loads or supernet trains."""

from __future__ import annotations

import math
from pathlib import Path

from nasforge.errors import ConfigError
from nasforge.oneshot.registry import METHODS


def check_run_settings(
    method: str,
    epochs: int,
    batch_size: int,
    memory_limit_mb: float | None,
    max_minutes: float | None,
    finetune_epochs: int,
) -> None:
    """Refuse an unknown method and counts or limits out of range."""
    if method not in METHODS:
        raise ConfigError(f"unknown one-shot method {method!r}; choose from {', '.join(METHODS)}")
    if epochs < 1 or batch_size < 1 or finetune_epochs < 0:
        raise ConfigError(
            f"--epochs and --batch-size must be >= 1 and --finetune-epochs >= 0, not "
            f"{epochs}, {batch_size} and {finetune_epochs}"
        )
    for name, value in (("--memory-limit-mb", memory_limit_mb), ("--max-minutes", max_minutes)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a number > 0, not {value}")


def check_run_outputs(
    *,
    out: Path | None,
    finetune_epochs: int,
    partial_channels: int,
    benchmark: Path | None,
    space: str,
    onnx: bool,
) -> None:
    """Refuse outputs the run cannot give: a folder in use, a child of a partial-channel
    supernet, a NAS-Bench-201 lookup of another space, ONNX without a saved child."""
    if out is not None and out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    if (out is not None or finetune_epochs > 0) and partial_channels > 1:
        raise ConfigError(
            f"--partial-channels {partial_channels} trains ops on 1/{partial_channels} of the "
            "channels, so the child cannot inherit them: drop --out and --finetune-epochs, "
            "or retrain the printed arch with 'nasforge train'"
        )
    if benchmark is not None and space != "nb201":
        raise ConfigError(f"--benchmark is NAS-Bench-201, which covers space nb201, not {space!r}")
