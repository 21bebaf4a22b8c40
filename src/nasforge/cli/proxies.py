"""`nasforge proxies`: score architectures with zero-cost proxies, without training any.

A random sample (or every architecture) of a space is scored with one or more proxies on one
mini-batch of a task (or no data, for the data-free proxies). The scores go to a CSV file,
a JSON object or a top-k table; against a NAS-Bench-201 table, the rank correlation of each
proxy (and of their rank-average ensemble) with a benchmark column is printed too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from nasforge.cli.app import app
from nasforge.cli.common import (
    OWN_SPACE_HELP,
    DeviceOption,
    JsonOption,
    PrecisionOption,
    SpaceOptions,
    echo_err,
    parse_options,
    stdout_console,
    user_errors,
)
from nasforge.cli.task_options import TASKS, DataOption
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from nasforge.proxies.scoring import ProxyScores

KNOWN_PROXIES = (
    "synflow",
    "jacov",
    "nwot",
    "snip",
    "grasp",
    "fisher",
    "grad_norm",
    "zen",
    "params",
    "flops",
)
"""For --help only (the registry is not imported before the command runs)."""
DATA_FREE_PROXIES = ("synflow", "zen", "params", "flops")
DEFAULT_PROXY = "synflow"
DEFAULT_SAMPLE = 100
"""For --help (`nasforge.proxies.selection` draws the sample)."""
DEFAULT_METRIC = "cifar10_valid_acc"
ENSEMBLE = "ensemble"


def note(line: str) -> None:
    echo_err(f"note: {line}")


@app.command()
@user_errors
def proxies(
    space: Annotated[
        str | None,
        typer.Option(
            help="Search space (default: nb201; with --task, by its input as search). "
            + OWN_SPACE_HELP
        ),
    ] = None,
    space_option: SpaceOptions = None,
    task: Annotated[
        str | None,
        typer.Option(
            help=f"Task whose training split gives the mini-batch: {TASKS} "
            "(default: none, data-free proxies only).",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--proxy",
            "-p",
            help=f"Proxy to score with, repeatable (default: {DEFAULT_PROXY}): "
            f"{', '.join(KNOWN_PROXIES)}; data-free: {', '.join(DATA_FREE_PROXIES)}.",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option(
            help=f"Score N distinct random architectures drawn with --seed (default: "
            f"{DEFAULT_SAMPLE}; all of them if the space has fewer).",
            show_default=False,
        ),
    ] = None,
    all_archs: Annotated[
        bool, typer.Option("--all", help="Score every architecture of the space.")
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of the sample, the mini-batch and the initial weights.")
    ] = 0,
    batch_size: Annotated[int, typer.Option(help="Examples in the proxies' mini-batch.")] = 64,
    workers: Annotated[int, typer.Option(help="Worker processes scoring in parallel.")] = 1,
    threads: Annotated[int, typer.Option(help="Torch threads per process.")] = 1,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    out: Annotated[
        Path | None,
        typer.Option(help="CSV file for the scores: arch, one column per proxy, ensemble."),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(help="Score cache (CSV): reuse the scores in it, append new ones."),
    ] = None,
    benchmark: Annotated[
        Path | None,
        typer.Option(
            help="NAS-Bench-201 table (nb201.csv): rank-correlate the scores with --metric "
            "(space nb201 only).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help=f"Benchmark column to correlate with (default: {DEFAULT_METRIC}).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in the table of the best scores.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Score architectures with zero-cost proxies: no training, one mini-batch (or none).

    With two or more proxies, an 'ensemble' column holds their average normalized rank.

    Architectures that compute the same function are scored once.
    """
    from nasforge.device import resolve_settings
    from nasforge.proxies.selection import check_counts
    from nasforge.run.proxy_setup import proxy_task

    device, precision = resolve_settings(device, precision)
    names = list(proxy or [DEFAULT_PROXY])
    check_counts(sample, all_archs, batch_size, workers, threads, top)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"--proxy {', '.join(repeated)} is given more than once")
    if metric is not None and benchmark is None:
        raise ConfigError("--metric needs --benchmark (the table whose column it names)")
    task_options = proxy_task(task, data, label_column)
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a CSV file name")

    import torch

    from nasforge.proxies.base import check_logits, check_proxy_names, seeded
    from nasforge.proxies.benchmark_check import (
        benchmark_table,
        benchmark_values,
        finite,
        rank_correlations,
    )
    from nasforge.proxies.cache import ScoreCache
    from nasforge.proxies.score_files import cache_context, write_scores_csv
    from nasforge.proxies.scoring import score_archs
    from nasforge.proxies.selection import choose_archs
    from nasforge.run.proxy_setup import proxy_space_and_batch
    from nasforge.space import space_key

    torch.set_num_threads(threads)
    space_params = parse_options(space_option or [], what="space option")
    chosen_space, batch, task_spec = proxy_space_and_batch(
        space, space_params, task_options, batch_size=batch_size, seed=seed, on_note=note
    )
    check_proxy_names(names, batch)
    column = metric or DEFAULT_METRIC
    table = benchmark_table(benchmark, chosen_space, column) if benchmark is not None else None
    archs = choose_archs(chosen_space, sample, all_archs, seed)
    targets = benchmark_values(table, chosen_space, archs, column) if table is not None else None
    score_cache = ScoreCache(cache) if cache is not None else None
    with seeded(seed):  # a network that cannot take the batch fails before any output
        check_logits(chosen_space.build(archs[0], batch.input_shape, batch.num_classes), batch)

    context = cache_context(chosen_space, task_spec, batch, seed)
    if precision != "fp32":  # scores differ by precision (by device only in rounding)
        context += f"|{precision}"

    def run(on_progress: Callable[[int, int], None]) -> ProxyScores:
        return score_archs(
            chosen_space,
            archs,
            names,
            batch,
            seed=seed,
            workers=workers,
            threads=threads,
            cache=score_cache,
            context=context,
            on_progress=on_progress,
            device=device,
            precision=precision,
        )

    scores = score_with_progress(
        run, description=f"{len(archs)} {chosen_space.name} archs", as_json=as_json
    )
    columns = dict(scores.scores)
    if len(names) >= 2:
        from nasforge.proxies.ensemble import rank_average

        columns[ENSEMBLE] = rank_average(scores.scores)
    texts = [chosen_space.format(arch) for arch in archs]
    correlations = rank_correlations(columns, targets) if targets is not None else None
    if out is not None:
        write_scores_csv(out, texts, columns)
    ranked_by = ENSEMBLE if ENSEMBLE in columns else names[0]
    if as_json:
        payload = {
            "space": {"name": space_key(chosen_space), "params": chosen_space.config()},
            "task": task_spec,
            "proxies": names,
            "seed": seed,
            "batch_size": batch.size,
            "device": device,
            "precision": precision,
            "count": len(archs),
            "computed": scores.computed,
            "wall_seconds": scores.wall_seconds,
            "ranked_by": ranked_by,
            "out": None if out is None else str(out),
            "archs": [
                {"arch": text, "scores": {name: finite(columns[name][i]) for name in columns}}
                for i, text in enumerate(texts)
            ],
        }
        if correlations is not None:
            payload["benchmark"] = str(benchmark)
            payload["metric"] = column
            payload["correlations"] = correlations
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    console = stdout_console()
    if out is None:
        console.print(_top_table(texts, columns, ranked_by, top))
    if correlations is not None:
        console.print(_correlation_table(correlations, column, len(archs)))
    where = f"; scores written to {out}" if out is not None else ""
    console.print(
        f"Scored {len(archs)} architectures with {', '.join(names)} in "
        f"{scores.wall_seconds:.1f} s ({scores.computed} networks computed){where}"
    )


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


def _top_table(texts: list[str], columns: dict[str, np.ndarray], ranked_by: str, k: int) -> Table:
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


def _correlation_table(
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
