"""`nasforge proxies`: score architectures with zero-cost proxies, without training any.

A random sample (or every architecture) of a space is scored with one or more proxies on one
mini-batch of a task (or no data, for the data-free proxies). The scores go to a CSV file,
a JSON object or a top-k table; against a NAS-Bench-201 table, the rank correlation of each
proxy (and of their rank-average ensemble) with a benchmark column is printed too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import (
    echo_note,
    parse_options,
    stdout_console,
    user_errors,
)
from nasforge.cli.options import (
    DeviceOption,
    JsonOption,
    PrecisionOption,
    SpaceOptions,
)
from nasforge.cli.proxies_options import (
    DATA_FREE_PROXIES,
    DEFAULT_METRIC,
    DEFAULT_PROXY,
    KNOWN_PROXIES,
    BenchmarkOption,
    CacheOption,
    MetricOption,
    OutOption,
    ProxyOption,
    SampleOption,
    SeedOption,
    SpaceOption,
    TaskOption,
)
from nasforge.cli.proxies_output import correlation_table, score_with_progress, top_table
from nasforge.cli.task_options import DataOption
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.proxies.scoring import ProxyScores

__all__ = ["DATA_FREE_PROXIES", "KNOWN_PROXIES", "proxies"]
ENSEMBLE = "ensemble"


@app.command()
@user_errors
def proxies(
    space: SpaceOption = None,
    space_option: SpaceOptions = None,
    task: TaskOption = None,
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    proxy: ProxyOption = None,
    sample: SampleOption = None,
    all_archs: Annotated[
        bool, typer.Option("--all", help="Score every architecture of the space.")
    ] = False,
    seed: SeedOption = 0,
    batch_size: Annotated[int, typer.Option(help="Examples in the proxies' mini-batch.")] = 64,
    workers: Annotated[int, typer.Option(help="Worker processes scoring in parallel.")] = 1,
    threads: Annotated[int, typer.Option(help="Torch threads per process.")] = 1,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    out: OutOption = None,
    cache: CacheOption = None,
    benchmark: BenchmarkOption = None,
    metric: MetricOption = None,
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
    from nasforge.proxies.cache import ScoreCache
    from nasforge.proxies.score_files import cache_context, write_scores_csv
    from nasforge.proxies.scoring import score_archs
    from nasforge.proxies.selection import choose_archs
    from nasforge.run.proxy_benchmark import (
        benchmark_table,
        benchmark_values,
        finite,
        rank_correlations,
    )
    from nasforge.run.proxy_setup import proxy_space_and_batch
    from nasforge.space import space_key

    torch.set_num_threads(threads)
    space_params = parse_options(space_option or [], what="space option")
    chosen_space, batch, task_spec = proxy_space_and_batch(
        space, space_params, task_options, batch_size=batch_size, seed=seed, on_note=echo_note
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
        console.print(top_table(texts, columns, ranked_by, top))
    if correlations is not None:
        console.print(correlation_table(correlations, column, len(archs)))
    where = f"; scores written to {out}" if out is not None else ""
    console.print(
        f"Scored {len(archs)} architectures with {', '.join(names)} in "
        f"{scores.wall_seconds:.1f} s ({scores.computed} networks computed){where}"
    )
