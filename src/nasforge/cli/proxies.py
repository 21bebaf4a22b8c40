"""`nasforge proxies`: score architectures with zero-cost proxies, without training any."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import echo_note, parse_options, progress_bar, stdout_console, user_errors
from nasforge.cli.options import (
    OWN_SPACE_HELP,
    DeviceOption,
    JsonOption,
    LabelColumnOption,
    PrecisionOption,
    SpaceOptions,
    opt,
)
from nasforge.cli.task_options import TASKS, DataOption
from nasforge.run.proxy_run import (
    DATA_FREE_PROXIES,
    DEFAULT_METRIC,
    DEFAULT_PROXY,
    DEFAULT_SAMPLE,
    KNOWN_PROXIES,
    ProxySettings,
    plan_proxies,
)

__all__ = ["DATA_FREE_PROXIES", "KNOWN_PROXIES", "proxies"]
CsvOption = Annotated[
    Path | None, opt("CSV file for the scores: arch, one column per proxy, ensemble.")
]


@app.command()
@user_errors
def proxies(
    space: Annotated[
        str | None,
        opt(
            "Search space (default: nb201; with --task, by its input as search). " + OWN_SPACE_HELP
        ),
    ] = None,
    space_option: SpaceOptions = None,
    task: Annotated[
        str | None,
        opt(
            f"Task whose training split gives the mini-batch: {TASKS} (default: none, "
            "data-free proxies only).",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
    label_column: LabelColumnOption = None,
    proxy: Annotated[
        list[str] | None,
        opt(
            f"Proxy to score with, repeatable (default: {DEFAULT_PROXY}): "
            f"{', '.join(KNOWN_PROXIES)}; data-free: {', '.join(DATA_FREE_PROXIES)}.",
            "--proxy",
            "-p",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        int | None,
        opt(
            f"Score N distinct random architectures drawn with --seed (default: "
            f"{DEFAULT_SAMPLE}; all of them if the space has fewer).",
            show_default=False,
        ),
    ] = None,
    all_archs: Annotated[bool, opt("Score every architecture of the space.", "--all")] = False,
    seed: Annotated[int, opt("Seed of the sample, the mini-batch and the initial weights.")] = 0,
    batch_size: Annotated[int, opt("Examples in the proxies' mini-batch.")] = 64,
    workers: Annotated[int, opt("Worker processes scoring in parallel.")] = 1,
    threads: Annotated[int, opt("Torch threads per process.")] = 1,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    out: CsvOption = None,
    cache: Annotated[
        Path | None, opt("Score cache (CSV): reuse the scores in it, append new ones.")
    ] = None,
    benchmark: Annotated[
        Path | None,
        opt(
            "NAS-Bench-201 table (nb201.csv): rank-correlate the scores with --metric (space "
            "nb201 only).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        str | None,
        opt(f"Benchmark column to correlate with (default: {DEFAULT_METRIC}).", show_default=False),
    ] = None,
    top: Annotated[int, opt("Rows in the table of the best scores.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Score architectures with zero-cost proxies: no training, one mini-batch (or none).

    With two or more proxies, an 'ensemble' column holds their average normalized rank.

    Architectures that compute the same function are scored once.
    """
    from nasforge.report.proxy_tables import correlation_table, top_table

    settings = ProxySettings(
        list(proxy or [DEFAULT_PROXY]), sample, all_archs, seed, batch_size, workers, threads,
        device, precision, out, cache, benchmark, metric, top,
    )  # fmt: skip
    space_params = parse_options(space_option or [], what="space option")
    plan = plan_proxies(space, space_params, task, data, label_column, settings, on_note=echo_note)
    with progress_bar(plan.description, "networks", keep=not as_json) as show:
        scored = plan.run(on_progress=show)
    if as_json:
        typer.echo(json.dumps(scored.to_dict(), allow_nan=False))
        return
    console = stdout_console()
    if out is None:
        console.print(top_table(scored.texts, scored.columns, scored.ranked_by, top))
    if scored.correlations is not None:
        console.print(correlation_table(scored.correlations, scored.metric, len(scored.texts)))
    console.print(scored.summary_line())
