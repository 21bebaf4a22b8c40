"""The bilevel data split of one-shot search.

The task's training set is split into two halves, deterministically by seed and stratified
by class: the network weights train on one half (through the `Trainer`), the architecture
weights on batches of the other half (`BatchStream`), as in DARTS (Liu et al., ICLR 2019).
SPOS and ENAS train their supernet on all but a small validation set (``arch_share`` 0.1,
as ENAS's 45,000 / 5,000 split of CIFAR-10's training set), on which SPOS scores paths and
ENAS's controller is rewarded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from nasforge.data.task import Task, stratified_split
from nasforge.oneshot.errors import OneShotError

MIN_BATCHES_PER_HALF = 2


@dataclass(frozen=True, eq=False)
class BilevelSplit:
    """``weights_task``: the task with its training set cut to the weights' half (its
    validation and test sets unchanged); ``x_arch``/``y_arch``: the architecture's half."""

    weights_task: Task
    x_arch: torch.Tensor
    y_arch: torch.Tensor


def split_for_bilevel(
    task: Task, batch_size: int, seed: int, arch_share: float = 0.5
) -> BilevelSplit:
    """Split ``task``'s training set: about ``arch_share`` of it (stratified by class; half
    by default, as DARTS) for the architecture, the rest for the weights. A smaller share
    (SPOS's and ENAS's validation set) is raised to hold 2 batches; each part must hold 2
    batches at least."""
    if not 0.0 < arch_share <= 0.5:
        raise OneShotError(f"arch_share must lie in (0, 0.5], not {arch_share}")
    n = len(task.y_train)
    smallest = n // 2
    if batch_size < 1 or smallest < MIN_BATCHES_PER_HALF * batch_size:
        fits = n // (2 * MIN_BATCHES_PER_HALF)
        advice = f"use batch_size <= {fits}" if fits >= 1 else "use more training data"
        raise OneShotError(
            f"task {task.name!r} has {n} training examples: each half of the bilevel split "
            f"(about {smallest}) needs at least {MIN_BATCHES_PER_HALF} batches of "
            f"{batch_size}; {advice}"
        )
    # per-class rounding loses at most one example a class
    classes = len(np.unique(task.y_train))
    least = (MIN_BATCHES_PER_HALF * batch_size + classes) / n
    weights_idx, arch_idx = stratified_split(task.y_train, min(0.5, max(arch_share, least)), seed)
    smallest = min(len(weights_idx), len(arch_idx))
    if smallest < MIN_BATCHES_PER_HALF * batch_size:  # very uneven classes round unevenly
        raise OneShotError(
            f"task {task.name!r}: the smaller part of the bilevel split has {smallest} "
            f"examples, fewer than {MIN_BATCHES_PER_HALF} batches of {batch_size}; "
            f"use batch_size <= {smallest // MIN_BATCHES_PER_HALF}"
        )
    from nasforge.data.image_files import ImageFiles

    x = task.x_train  # image files stay files for the weights (the architecture's half is decoded)
    weights_x = x.take(weights_idx) if isinstance(x, ImageFiles) else x[weights_idx]
    weights_task = dataclasses.replace(task, x_train=weights_x, y_train=task.y_train[weights_idx])
    return BilevelSplit(
        weights_task=weights_task,
        x_arch=torch.tensor(task.x_train[arch_idx]),
        y_arch=torch.tensor(task.y_train[arch_idx]),
    )


class BatchStream:
    """Endless full batches of ``(x, y)`` in a fresh shuffled order every pass, each given
    through ``transform`` (e.g. augmentation) if there is one."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.generator = generator
        self.transform = transform
        self._batches: list[torch.Tensor] = []

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._batches:
            order = torch.randperm(len(self.y), generator=self.generator)
            full = len(order) // self.batch_size
            self._batches = list(torch.split(order[: full * self.batch_size], self.batch_size))
            self._batches.reverse()
        batch = self._batches.pop()
        x = self.x[batch]
        return (x if self.transform is None else self.transform(x)), self.y[batch]
