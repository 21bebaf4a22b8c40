"""The options of `nasforge proxies` that no other command takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.options import OWN_SPACE_HELP
from nasforge.cli.task_options import TASKS

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

SpaceOption = Annotated[
    str | None,
    typer.Option(
        help="Search space (default: nb201; with --task, by its input as search). " + OWN_SPACE_HELP
    ),
]
TaskOption = Annotated[
    str | None,
    typer.Option(
        help=f"Task whose training split gives the mini-batch: {TASKS} "
        "(default: none, data-free proxies only).",
        show_default=False,
    ),
]
ProxyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--proxy",
        "-p",
        help=f"Proxy to score with, repeatable (default: {DEFAULT_PROXY}): "
        f"{', '.join(KNOWN_PROXIES)}; data-free: {', '.join(DATA_FREE_PROXIES)}.",
        show_default=False,
    ),
]
SampleOption = Annotated[
    int | None,
    typer.Option(
        help=f"Score N distinct random architectures drawn with --seed (default: "
        f"{DEFAULT_SAMPLE}; all of them if the space has fewer).",
        show_default=False,
    ),
]
SeedOption = Annotated[
    int, typer.Option(help="Seed of the sample, the mini-batch and the initial weights.")
]
OutOption = Annotated[
    Path | None,
    typer.Option(help="CSV file for the scores: arch, one column per proxy, ensemble."),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(help="Score cache (CSV): reuse the scores in it, append new ones."),
]
BenchmarkOption = Annotated[
    Path | None,
    typer.Option(
        help="NAS-Bench-201 table (nb201.csv): rank-correlate the scores with --metric "
        "(space nb201 only).",
        show_default=False,
    ),
]
MetricOption = Annotated[
    str | None,
    typer.Option(
        help=f"Benchmark column to correlate with (default: {DEFAULT_METRIC}).",
        show_default=False,
    ),
]
