"""The options of `nasforge oneshot` that no other command takes, and the methods its help
lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.options import OWN_SPACE_HELP

METHOD_NAMES = ("darts", "darts2", "gdas", "enas", "spos", "beta-darts", "pc-darts")
"""For --help and early checks (the registry, `nasforge.oneshot.METHODS`, imports torch)."""
METHOD_NOTES = {
    "darts": "first order",
    "darts2": "second order",
    "pc-darts": "partial channels, K=4",
}
METHOD_DEPARTURES = {
    "darts": "weights cosine-annealed to eta_min 0.001 and, with augment, both halves "
    "augmented, as the paper",
    "darts2": "as darts",
    "pc-darts": "arch lr 6e-4 and architecture steps from 0.3 of the epochs (15 of 50) as "
    "the paper, cosine to 0 as its code; no edge normalization; weight lr 0.025 at batch 64 "
    "(paper 0.1 at 256)",
    "gdas": "cosine to eta_min 0.001 as the paper",
    "beta-darts": "weight 50 * epoch / lambda_epochs (100, as the reference code)",
    "enas": "the supernet trains on all but a validation set of 0.1 (arch_share), as its "
    "code (5,000 of 50,000); weights at lr 0.025 cosine to 0.001, weight decay 3e-4 (its "
    "micro search, melodyguan/enas: 0.05 to 0.0005 cosine with warm restarts, periods of 10, "
    "20, 40... epochs, weight decay 1e-4); controller lr 1e-2, 10 steps of 10 paths an epoch "
    "(code 3.5e-3, 30 of 10)",
    "spos": "the supernet trains on all but a validation set of 0.1 (arch_share; the paper "
    "holds out 50,000 of ImageNet's 1.28M training images); weights at lr 0.025 cosine to "
    "0.001, Nesterov, weight decay 3e-4 (its code, megvii-model/SinglePathOneShot: lr 0.5 at "
    "batch 1024 decayed linearly to 0, plain momentum 0.9, weight decay 4e-5 on conv and "
    "linear weights only, label smoothing 0.1); tournament evolution, 20 for 10 generations "
    "(code: top 10 kept, 25 mutations and 25 crossovers, 50 for 20 generations)",
}
"""Where each method's defaults depart from its paper (or agree where users might doubt it),
shown by ``nasforge oneshot --help``."""


MethodOption = Annotated[
    str,
    typer.Option(
        help=", ".join(
            f"{name} ({METHOD_NOTES[name]})" if name in METHOD_NOTES else name
            for name in METHOD_NAMES
        )
        + "."
    ),
]
SpaceOption = Annotated[
    str,
    typer.Option(
        help="Search space with op choices. nb201 defaults to channels=8, "
        "cells_per_stage=1 (fits a CPU); override with -s. " + OWN_SPACE_HELP
    ),
]
MethodOptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--method-option",
        "-o",
        help="Method setting KEY=VALUE, e.g. arch_lr=0.003, warmup_epochs=30, "
        "augment=true, exclude_ops=none (repeatable; a wrong key lists the valid ones).",
    ),
]
PartialChannelsOption = Annotated[
    int,
    typer.Option(
        help="PC-DARTS: send 1/K of the channels through the mixed ops (darts, darts2, "
        "beta-darts); the child then cannot inherit weights."
    ),
]
MemoryLimitMbOption = Annotated[
    float | None,
    typer.Option(help="Refuse to train if the estimated peak exceeds this (default: free RAM)."),
]
MaxMinutesOption = Annotated[
    float | None,
    typer.Option(help="Stop training after the epoch during which this much time passed."),
]
BenchmarkOption = Annotated[
    Path | None,
    typer.Option(
        "--benchmark",
        help="NAS-Bench-201 table (nb201.csv): look the found arch up in it.",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(help="Save the child with inherited weights in this folder."),
]
FinetuneEpochsOption = Annotated[
    int, typer.Option(help="Train the child with inherited weights this many epochs.")
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Keep the run in --store under this name (for nasforge report, dashboard, best).",
        show_default=False,
    ),
]
StoreOption = Annotated[
    Path, typer.Option("--store", help="SQLite file that keeps the run (with --name).")
]
LatencyTableOption = Annotated[
    Path | None,
    typer.Option(
        help="Latency lookup table of the mobilenet space built here for this task "
        "('nasforge latency build'); needs --latency-target.",
        show_default=False,
    ),
]
LatencyTargetOption = Annotated[
    float | None,
    typer.Option(
        help="Latency target in ms: darts-family methods add weight * E\\[latency] / "
        "target to the architecture loss; spos trains and evolves only archs predicted "
        "within it.",
        show_default=False,
    ),
]
