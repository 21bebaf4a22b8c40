"""What `nasforge proxies` shows: a progress bar while networks are scored, the table of
the best scores and the table of rank correlations with a benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

    from nasforge.proxies.scoring import ProxyScores


def score_with_progress(
    run: Callable[[Callable[[int, int], None]], ProxyScores], *, description: str, as_json: bool
) -> ProxyScores:
    """``run(on_progress)`` with a progress bar on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    stderr = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("networks"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=as_json,
        disable=not stderr.is_terminal and as_json,
    ) as progress:
        bar = progress.add_task(description, total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        return run(on_progress)


def _shown(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if value == round(value) and abs(value) >= 1e4:  # a count: params, flops
        return f"{value:,.0f}"
    return f"{value:.4g}"


def top_table(texts: list[str], columns: dict[str, np.ndarray], ranked_by: str, k: int) -> Table:
    import numpy as np

    key = np.array(columns[ranked_by], dtype=float)
    key[np.isnan(key)] = -np.inf
    order = np.argsort(-key, kind="stable")[:k]
    table = Table(title=f"Top {len(order)} of {len(texts)} architectures by {ranked_by}")
    table.add_column("rank", justify="right")
    table.add_column("architecture", overflow="fold")
    for name in columns:
        table.add_column(name, justify="right")
    for rank, row in enumerate(order, start=1):
        values = [_shown(float(values[row])) for values in columns.values()]
        table.add_row(str(rank), texts[row], *values)
    return table


def correlation_table(
    correlations: dict[str, dict[str, float | None]], column: str, count: int
) -> Table:
    title = f"Rank correlation with {column} ({count} architectures)"
    table = Table(title=title, min_width=len(title) + 4)
    table.add_column("proxy")
    table.add_column("Spearman", justify="right")
    table.add_column("Kendall", justify="right")
    for name, values in correlations.items():
        table.add_row(
            name,
            *("-" if values[k] is None else f"{values[k]:.3f}" for k in ("spearman", "kendall")),
        )
    return table
