"""A search as people watch it: one progress bar of the budget spent, the trials evaluated
and the best score so far (of the experiment, not only of this run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def search_progress(
    experiment: Any, console: Console, *, quiet: bool
) -> Iterator[Callable[[Any, Any], None]]:
    """Yields the ``on_trial(trial, usage)`` callback of `Experiment.run` that moves a bar
    on `console`; with `quiet` the bar shows only on a terminal and goes when done."""
    so_far = experiment.best_score()
    best: list[float] = [] if so_far is None else [so_far]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} evaluated · best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
        transient=quiet,
        disable=not console.is_terminal and quiet,
    ) as progress:
        shown = f"{best[0]:.2f}" if best else "-"
        task = progress.add_task(experiment.name, total=1.0, done=0, best=shown)

        def on_trial(trial: Any, usage: Any) -> None:
            if trial.score is not None and (not best or trial.score > best[0]):
                best[:] = [trial.score]
            progress.update(
                task,
                completed=experiment.budget.fraction(usage),
                done=usage.queries,
                best=f"{best[0]:.2f}" if best else "-",
            )

        yield on_trial
