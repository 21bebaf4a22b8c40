"""`TrainerHooks`: the callbacks of the training loop that one-shot methods and evaluators
override instead of copying the loop."""

from __future__ import annotations

import torch
from torch import nn

from nasforge.data.task import Task
from nasforge.training.metrics import EpochMetrics, TrainReport


class TrainerHooks:
    """No-op callbacks of the training loop; override the ones a method needs.

    ``step`` counts optimizer steps from 0 over the whole fit; ``epoch`` counts from 0.
    """

    def on_fit_start(self, model: nn.Module, task: Task) -> None:
        """Before the first epoch (e.g. set up architecture optimizers)."""

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        """Before the first batch of an epoch."""

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        """Before the forward pass of a batch (e.g. sample a path, update architecture weights)."""

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        """After `on_batch_start`, with the batch about to be trained on (e.g. for a bilevel
        architecture step that unrolls the weight step on this batch)."""

    def after_backward(self, step: int, model: nn.Module) -> None:
        """After gradients are computed, before clipping and the optimizer step."""

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        """After the optimizer step."""

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> None:
        """After validation, with the epoch's point of the learning curve."""

    def should_stop(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> str | None:
        """After `on_epoch_end`: why training should end after this epoch, or None to go on
        (e.g. a wall-time budget counted in whole epochs)."""
        return None

    def on_fit_end(self, model: nn.Module, report: TrainReport) -> None:
        """After training ended, for any reason."""
