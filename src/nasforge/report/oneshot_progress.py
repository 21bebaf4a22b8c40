"""A one-shot search as people watch it: a progress bar of the supernet's epochs (loss and
argmax architecture), then of SPOS's generations, after the estimated peak memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from nasforge.oneshot import SearchMonitor

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.oneshot import MemoryEstimate
    from nasforge.space.base import SearchSpace
    from nasforge.training import EpochMetrics


class ProgressMonitor(SearchMonitor):
    """A `SearchMonitor` that shows a search on a Rich `Progress`."""

    def __init__(self, progress: Progress, space: SearchSpace, method: str) -> None:
        self.progress, self.space, self.method = progress, space, method
        self.training: TaskID | None = None
        self.evolution: TaskID | None = None

    def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
        message = f"Estimated peak memory of one {self.method} step: {memory}"
        self.progress.console.print(message, soft_wrap=True)
        self.training = self.progress.add_task(self.method, total=epochs, status="")

    def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
        assert self.training is not None
        shown = "uniform paths" if arch is None else self.space.format(arch)
        status = f"loss {metrics.train_loss:.3f} · {shown}"
        self.progress.update(self.training, advance=1, status=status)

    def on_generation(self, generation: int, generations: int, score: float, arch: Arch) -> None:
        if self.evolution is None:
            self.evolution = self.progress.add_task("evolution", total=generations, status="")
        status = f"best {100 * score:.1f}% · {self.space.format(arch)}"
        self.progress.update(self.evolution, completed=generation + 1, status=status)


@contextmanager
def oneshot_progress(
    console: Console, space: SearchSpace, method: str, *, quiet: bool
) -> Iterator[ProgressMonitor]:
    """The monitor of a search of `space` by `method`, drawn on `console`; with `quiet` the
    bar shows only on a terminal and goes when done."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=quiet,
        disable=quiet and not console.is_terminal,
    ) as progress:
        yield ProgressMonitor(progress, space, method)
