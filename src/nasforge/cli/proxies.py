"""`nasforge proxies`: score architectures with zero-cost proxies, without training any."""

from __future__ import annotations

from typing import Annotated

from nasforge.cli.app import app
from nasforge.cli.common import echo_note, print_payload, user_errors
from nasforge.cli.options import (
    OWN_SPACE_HELP,
    DeviceOption,
    JsonOption,
    LabelColumnOption,
    PrecisionOption,
    SpaceOptions,
    opt,
)
from nasforge.cli.settings import Parsed, with_settings
from nasforge.cli.task_options import TASKS, DataOption
from nasforge.report.progress import progress_bar
from nasforge.run.proxy_run import (
    DATA_FREE_PROXIES,
    DEFAULT_METRIC,
    DEFAULT_PROXY,
    DEFAULT_SAMPLE,
    KNOWN_PROXIES,
    ProxySettings,
    plan_proxies,
)
from nasforge.run.setting_words import parse_options

__all__ = ["DATA_FREE_PROXIES", "KNOWN_PROXIES", "proxies"]
PROXY_HELP = (
    f"Proxy to score with, repeatable (default: {DEFAULT_PROXY}): {', '.join(KNOWN_PROXIES)}; "
    f"data-free: {', '.join(DATA_FREE_PROXIES)}."
)
PROXY_OPTIONS = {
    "proxies": Parsed(Annotated[list[str] | None, opt(PROXY_HELP, "--proxy", "-p",
                                                      show_default=False)],
                      lambda given: list(given or [DEFAULT_PROXY])),
    "sample": opt(f"Score N distinct random architectures drawn with --seed (default: "
                  f"{DEFAULT_SAMPLE}; all of them if the space has fewer).", show_default=False),
    "all_archs": opt("Score every architecture of the space.", "--all"),
    "seed": opt("Seed of the sample, the mini-batch and the initial weights."),
    "batch_size": opt("Examples in the proxies' mini-batch."),
    "workers": opt("Worker processes scoring in parallel."),
    "threads": opt("Torch threads per process."),
    "device": DeviceOption,
    "precision": PrecisionOption,
    "out": opt("CSV file for the scores: arch, one column per proxy, ensemble."),
    "cache": opt("Score cache (CSV): reuse the scores in it, append new ones."),
    "benchmark": opt("NAS-Bench-201 table (nb201.csv): rank-correlate the scores with --metric "
                     "(space nb201 only).", show_default=False),
    "metric": opt(f"Benchmark column to correlate with (default: {DEFAULT_METRIC}).",
                  show_default=False),
    "top": opt("Rows in the table of the best scores."),
}  # fmt: skip
"""The options of `ProxySettings`, in the order of ``nasforge proxies --help``."""


@app.command()
@user_errors
@with_settings(ProxySettings, PROXY_OPTIONS, parameter="settings")
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
            f"Task whose training split gives the mini-batch: {TASKS} (default: none, data-free "
            "proxies only).",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
    label_column: LabelColumnOption = None,
    settings: ProxySettings = ProxySettings(),
    as_json: JsonOption = False,
) -> None:
    """Score architectures with zero-cost proxies: no training, one mini-batch (or none).

    With two or more proxies, an 'ensemble' column holds their average normalized rank.

    Architectures that compute the same function are scored once.
    """
    from nasforge.report.proxy_tables import proxy_tables

    space_params = parse_options(space_option or [], what="space option")
    plan = plan_proxies(space, space_params, task, data, label_column, settings, on_note=echo_note)
    with progress_bar(plan.description, "networks", keep=not as_json) as show:
        scored = plan.run(on_progress=show)
    print_payload(scored.to_dict(), as_json, lambda _: proxy_tables(scored))
