"""A progress bar on stderr for any library function that takes an
``on_progress(done, total)`` callback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def progress_bar(
    label: str, unit: str = "", *, keep: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (``done/total unit``, and the time with a `unit`); it goes
    when done, and shows only on a terminal, unless `keep`. Yields the
    ``on_progress(done, total)`` callback that library functions take."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    stderr = Console(stderr=True)
    timed: list[ProgressColumn] = []
    if unit:
        timed = [TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        *timed,
        console=stderr,
        transient=not keep,
        disable=not keep and not stderr.is_terminal,
    ) as progress:
        task_id = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task_id, completed=done, total=total)
