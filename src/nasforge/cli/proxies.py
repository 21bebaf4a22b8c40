"""`nasforge proxies`: score architectures with zero-cost proxies, without training any.

A random sample (or every architecture) of a space is scored with one or more proxies on one
mini-batch of a task (or no data, for the data-free proxies). The scores go to a CSV file,
a JSON object or a top-k table; against a NAS-Bench-201 table, the rank correlation of each
proxy (and of their rank-average ensemble) with a benchmark column is printed too.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nasforge.cli.app import app
from nasforge.cli.common import (
    OWN_SPACE_HELP,
    TASKS,
    DataOption,
    DeviceOption,
    JsonOption,
    PrecisionOption,
    SpaceOptions,
    parse_options,
    print_task_notes,
    stdout_console,
    user_errors,
)
from nasforge.errors import ConfigError, SpaceError

if TYPE_CHECKING:
    import numpy as np

    from nasforge.arch import Arch
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.proxies.base import ProxyBatch
    from nasforge.proxies.scoring import ProxyScores
    from nasforge.space.base import SearchSpace

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
DEFAULT_METRIC = "cifar10_valid_acc"
ENSEMBLE = "ensemble"
MAX_ALL = 1_000_000
"""--all refuses spaces larger than this."""


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

    device, precision = resolve_settings(device, precision)
    names = list(proxy or [DEFAULT_PROXY])
    _check_counts(sample, all_archs, batch_size, workers, threads, top)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"--proxy {', '.join(repeated)} is given more than once")
    if metric is not None and benchmark is None:
        raise ConfigError("--metric needs --benchmark (the table whose column it names)")
    if data is not None and task is None:
        raise ConfigError("--data needs --task (the task the data file holds)")
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a CSV file name")

    import torch

    from nasforge.proxies.base import check_logits, check_proxy_names, seeded
    from nasforge.proxies.cache import ScoreCache
    from nasforge.proxies.scoring import score_archs
    from nasforge.space import space_key

    torch.set_num_threads(threads)
    space_params = parse_options(space_option or [], what="space option")
    chosen_space, batch, task_spec = _space_and_batch(
        space, space_params, task, data, label_column, batch_size=batch_size, seed=seed
    )
    check_proxy_names(names, batch)
    column = metric or DEFAULT_METRIC
    table = _benchmark_table(benchmark, chosen_space, column) if benchmark is not None else None
    archs = _choose_archs(chosen_space, sample, all_archs, seed)
    targets = _benchmark_values(table, chosen_space, archs, column) if table is not None else None
    score_cache = ScoreCache(cache) if cache is not None else None
    with seeded(seed):  # a network that cannot take the batch fails before any output
        check_logits(chosen_space.build(archs[0], batch.input_shape, batch.num_classes), batch)

    context = _context(chosen_space, task_spec, batch, seed)
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

    scores = _score_with_progress(
        run, description=f"{len(archs)} {chosen_space.name} archs", as_json=as_json
    )
    columns = dict(scores.scores)
    if len(names) >= 2:
        from nasforge.proxies.ensemble import rank_average

        columns[ENSEMBLE] = rank_average(scores.scores)
    texts = [chosen_space.format(arch) for arch in archs]
    correlations = _correlations(columns, targets) if targets is not None else None
    if out is not None:
        _write_csv(out, texts, columns)
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
                {"arch": text, "scores": {name: _finite(columns[name][i]) for name in columns}}
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


def _check_counts(
    sample: int | None, all_archs: bool, batch_size: int, workers: int, threads: int, top: int
) -> None:
    if sample is not None and all_archs:
        raise ConfigError("give --sample N or --all, not both")
    if sample is not None and sample < 1:
        raise ConfigError(f"--sample must be >= 1, not {sample}")
    for option, value in (
        ("--batch-size", batch_size),
        ("--workers", workers),
        ("--threads", threads),
        ("--top", top),
    ):
        if value < 1:
            raise ConfigError(f"{option} must be >= 1, not {value}")


def _space_and_batch(
    space_name: str | None,
    space_params: dict[str, Any],
    task_name: str | None,
    data: Path | None,
    label_column: str | None,
    *,
    batch_size: int,
    seed: int,
) -> tuple[SearchSpace, ProxyBatch, dict[str, Any] | None]:
    """The space, the proxies' batch (from the task, or data-free) and the task's spec."""
    from nasforge.evaluate.proxy import data_free_batch
    from nasforge.proxies.base import ProxyBatch
    from nasforge.run.setup import default_space_name
    from nasforge.space import is_spec, make_space, spaces_fitting

    if task_name is None:
        if label_column is not None:
            raise ConfigError("--label-column needs --task csv")
        chosen = make_space(space_name or "nb201", **space_params)
        return chosen, data_free_batch(chosen, size=batch_size), None

    from nasforge.data.loaders import DATA_ENV, load_task

    options = {"label_column": label_column} if label_column else {}
    where = str(data) if data is not None else os.environ.get(DATA_ENV)
    resolved = str(Path(where).expanduser().resolve()) if where else None
    loaded = load_task(task_name, resolved, seed=0, **options)
    print_task_notes(loaded)
    chosen = make_space(space_name or default_space_name(loaded.input_shape), **space_params)
    try:
        chosen.check_input(loaded.input_shape)
    except SpaceError as exc:
        if space_name is not None and is_spec(space_name):  # the user's own space
            raise
        fitting = ", ".join(spaces_fitting(loaded.input_shape)) or "none"
        raise SpaceError(f"{exc}; spaces that fit task {task_name!r}: {fitting}") from None
    batch = ProxyBatch.from_arrays(
        loaded.x_train, loaded.y_train, loaded.num_classes, size=batch_size, seed=seed
    )
    spec = {"name": task_name, "data": resolved, "seed": 0, "options": options}
    return chosen, batch, spec


def _choose_archs(space: SearchSpace, sample: int | None, all_archs: bool, seed: int) -> list[Arch]:
    """Every arch (grid order), or ``sample`` distinct ones drawn by ``seed`` (grid order)."""
    import numpy as np

    size = space.size()
    if all_archs:
        if size > MAX_ALL:
            raise ConfigError(
                f"space {space.name!r} has {size:,} architectures, too many for --all "
                f"(at most {MAX_ALL:,}); use --sample N"
            )
        return list(space.enumerate())
    count = DEFAULT_SAMPLE if sample is None else sample
    if count >= size:
        return list(space.enumerate())
    rng = np.random.default_rng(seed)
    if getattr(space, "conditional", False) and size <= MAX_ALL:
        # archs hold only their active decisions: no row arithmetic over all of them
        every = list(space.enumerate())
        return [every[int(row)] for row in np.sort(rng.choice(size, count, replace=False))]
    if size <= 10 * MAX_ALL and not getattr(space, "conditional", False):
        rows = np.sort(rng.choice(size, count, replace=False))
        return [_arch_at(space, int(row)) for row in rows]
    drawn: dict[str, Arch] = {}
    while len(drawn) < count:
        arch = space.sample(rng)
        drawn.setdefault(str(arch), arch)
    return list(drawn.values())


def _arch_at(space: SearchSpace, index: int) -> Arch:
    """The arch at ``index`` of ``space.enumerate()`` (the last decision varies fastest)."""
    from nasforge.arch import Arch

    picked = []
    for decision in reversed(space.decisions):
        index, position = divmod(index, len(decision.choices))
        picked.append((decision.label, decision.choices[position]))
    return Arch(dict(reversed(picked)))


def _benchmark_table(path: Path, space: SearchSpace, column: str) -> NB201Table:
    """The NB201 table at ``path``, checked to fit ``space`` and to hold ``column``."""
    from nasforge.evaluate.nb201_benchmark import NB201Table

    if space.name != "nb201":
        raise ConfigError(
            f"--benchmark is a NAS-Bench-201 table: it covers space 'nb201' only, "
            f"not {space.name!r}"
        )
    table = NB201Table.from_csv(path)
    table.require([column])
    return table


def _benchmark_values(
    table: NB201Table, space: SearchSpace, archs: list[Arch], column: str
) -> np.ndarray:
    """The benchmark column's value of every arch (checked before any scoring)."""
    import numpy as np

    values = table.columns[column]
    return np.array([values[table.row_of(space.format(arch))] for arch in archs], dtype=float)


def _context(space: SearchSpace, task: dict[str, Any] | None, batch: ProxyBatch, seed: int) -> str:
    """What a cached score depends on besides the arch and the proxy."""
    params = ",".join(f"{k}={v}" for k, v in sorted(space.config().items()))
    if task is None:
        shape = "x".join(str(n) for n in batch.input_shape)
        data = f"no-data-{shape}-{batch.num_classes}classes"
    else:
        data = task["name"] + (f"@{task['data']}" if task["data"] else "")
        data += "".join(f",{k}={v}" for k, v in sorted(task["options"].items()))
    from nasforge.space import space_key

    return f"{space_key(space)}({params})|{data}|batch{batch.size}s{seed}|seed{seed}"


def _score_with_progress(
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


def _correlations(
    columns: dict[str, np.ndarray], targets: np.ndarray
) -> dict[str, dict[str, float | None]]:
    from nasforge.proxies.correlation import kendall, spearman

    return {
        name: {
            "spearman": _finite(spearman(values, targets)),
            "kendall": _finite(kendall(values, targets)),
        }
        for name, values in columns.items()
    }


def _write_csv(path: Path, texts: list[str], columns: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["arch", *columns])
            for i, text in enumerate(texts):
                writer.writerow([text, *(_cell(float(values[i])) for values in columns.values())])
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _cell(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _finite(value: float) -> float | None:
    """JSON has no -inf or NaN: those become null."""
    value = float(value)
    return value if math.isfinite(value) else None


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
