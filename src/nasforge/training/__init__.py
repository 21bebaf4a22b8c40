"""The one training loop (`Trainer`), its configuration and its hooks."""

from __future__ import annotations

from nasforge.training.trainer import (
    EpochMetrics,
    TrainConfig,
    Trainer,
    TrainerHooks,
    TrainReport,
)

__all__ = ["EpochMetrics", "TrainConfig", "TrainReport", "Trainer", "TrainerHooks"]
