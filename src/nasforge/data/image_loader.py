"""Batches of `ImageFiles` for training: a torch ``Dataset`` and ``DataLoader`` whose worker
processes decode batches while the model trains (only paths travel to the workers).

`image_loader` serves ``(x, y)`` batches: shuffled by a generator of the training process
(a new permutation per pass, drawn as the in-memory path draws it, so both give the same
batches) or in order for evaluation. A batch is decoded at once (``__getitems__``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import DataLoader, Dataset

from nasforge.data.image_files import ImageFiles
from nasforge.data.task import DataError


class ImageDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Examples of `ImageFiles` with their labels, for a ``DataLoader``."""

    def __init__(self, files: ImageFiles, labels: npt.NDArray[np.int64]) -> None:
        if len(files) != len(labels):
            raise DataError(f"{len(files)} image files but {len(labels)} labels")
        self.files = files
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([index])
        return x[0], y[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = list(indices)
        x = torch.from_numpy(self.files.decode(rows))
        return x, torch.from_numpy(self.labels[rows])


class _Batches:
    """A batch sampler: the given batches of rows, in order (for evaluation)."""

    def __init__(self, count: int, batch_size: int) -> None:
        self.count, self.batch_size = count, batch_size

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for start in range(0, self.count, self.batch_size):
            yield list(range(start, min(start + self.batch_size, self.count)))


class ShuffledBatches:
    """A batch sampler that draws a permutation from ``generator`` each time it is iterated
    (once per epoch, in the training process), as the in-memory path shuffles."""

    def __init__(self, count: int, batch_size: int, generator: torch.Generator) -> None:
        self.count, self.batch_size, self.generator = count, batch_size, generator

    def __len__(self) -> int:
        return math.ceil(self.count / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.count, generator=self.generator)
        for batch in torch.split(order, self.batch_size):
            yield batch.tolist()


def _whole_batch(batch: Any) -> Any:
    """The batch `ImageDataset.__getitems__` made, as it is."""
    return batch


def _one_thread(worker: int) -> None:
    torch.set_num_threads(1)


def image_loader(
    files: ImageFiles,
    labels: npt.NDArray[np.int64],
    *,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    """A ``DataLoader`` of ``(x, y)`` batches of the files: shuffled by ``generator`` (a new
    permutation per pass), else in order; decoded in ``files.workers`` worker processes
    (one torch thread each; kept between passes)."""
    sampler: Iterable[list[int]] = (
        _Batches(len(files), batch_size)
        if generator is None
        else ShuffledBatches(len(files), batch_size, generator)
    )
    workers = files.workers
    return DataLoader(
        ImageDataset(files, labels),
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=_whole_batch,
        pin_memory=files.pin_memory,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),  # worker seeds; not torch's global one
        worker_init_fn=_one_thread if workers > 0 else None,
        prefetch_factor=2 if workers > 0 else None,
    )


def close_loader(loader: DataLoader[Any]) -> None:
    """End a loader's persistent worker processes now rather than when it is collected."""
    iterator = getattr(loader, "_iterator", None)
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if callable(shutdown):
        shutdown()
    loader._iterator = None
