"""The options of `nasforge search` that no other command takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.options import BENCHMARK_DATASETS, OWN_SPACE_HELP, SPACE_NAMES, STRATEGY_NAMES
from nasforge.run.search_setup import DEFAULT_BENCHMARK_BUDGET, DEFAULT_TRAIN_BUDGET

SpaceOption = Annotated[
    str | None,
    typer.Option(
        help=f"Search space: {SPACE_NAMES} (default: nb201 for images, conv1d for "
        "sequences, textconv for texts, mlp for tables). " + OWN_SPACE_HELP
    ),
]
StrategyOption = Annotated[str, typer.Option(help=f"Search strategy: {STRATEGY_NAMES}.")]
OptionOption = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="Strategy option KEY=VALUE (repeatable)."),
]
BudgetOption = Annotated[
    int | None,
    typer.Option(
        help=f"Architectures to evaluate (default {DEFAULT_TRAIN_BUDGET} trained, "
        f"{DEFAULT_BENCHMARK_BUDGET} benchmark queries)."
    ),
]
TimeLimitOption = Annotated[
    float | None, typer.Option(help="Seconds one candidate may train before it fails.")
]
EvaluatorOption = Annotated[
    str,
    typer.Option(
        help="train, benchmark, auto (benchmark if --benchmark is given), or nb301 "
        "(--space darts on the NAS-Bench-301 surrogate in folder --benchmark)."
    ),
]
DatasetOption = Annotated[str, typer.Option(help=f"Benchmark dataset: {BENCHMARK_DATASETS}.")]
FidelityOption = Annotated[
    int | None,
    typer.Option(help="Benchmark training epochs: 12 or 200 (default), 1-98 for nb301 (98)."),
]
SimulatedSecondsOption = Annotated[
    float | None, typer.Option(help="Also stop after this much simulated training time.")
]
WallSecondsOption = Annotated[
    float | None, typer.Option(help="Also stop after this much wall-clock time.")
]
EpochsBudgetOption = Annotated[
    float | None,
    typer.Option(
        help="Also stop after this many training epochs in all (a continued trial pays "
        "only for its new epochs): the fair budget for multi-fidelity schedulers."
    ),
]
ObjectiveOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Metric to optimize, NAME:max or NAME:min (default: validation accuracy); "
        "repeat for a multi-objective search."
    ),
]
ConstraintOption = Annotated[
    list[str] | None,
    typer.Option(help="Hard limit NAME<=VALUE or NAME>=VALUE (repeatable)."),
]
NameOption = Annotated[
    str | None, typer.Option(help="Experiment name (default: SPACE-STRATEGY-seedN).")
]
WarmStartOption = Annotated[
    list[str] | None,
    typer.Option(
        "--warm-start",
        metavar="PROXY",
        help="Evaluate first the best archs of a random sample by this zero-cost proxy, "
        "e.g. synflow (repeatable: ranked by the average rank).",
    ),
]
LatencyTableOption = Annotated[
    Path | None,
    typer.Option(
        help="A latency table (nasforge latency build) for this space and task: every "
        "candidate gets latency_ms_predicted, which objectives and constraints may use.",
    ),
]
WarmStartFromOption = Annotated[
    str | None,
    typer.Option(
        "--warm-start-from",
        metavar="STORE:NAME",
        help="Transfer: start from finished experiment NAME of store file STORE, a search "
        "of the same space on another task: its best archs are evaluated first "
        "(--warm-start-top of them) and all its trials inform the strategy's model.",
    ),
]
WarmStartSampleOption = Annotated[
    int, typer.Option(help="Random architectures the warm start scores.")
]
WarmStartTopOption = Annotated[
    int, typer.Option(help="Best-scoring architectures the warm start seeds the search with.")
]
TableOption = Annotated[
    Path | None,
    typer.Option(
        help="Search the rows of this table (CSV) instead: name its --decisions and "
        "--objective columns.",
    ),
]
DecisionsOption = Annotated[
    str | None,
    typer.Option(help="With --table: the decision columns, COL[,COL...] (empty cell: inactive)."),
]
ReportOption = Annotated[
    str | None,
    typer.Option(help="With --table: columns to show beside the objectives, never chosen by."),
]
CostColumnOption = Annotated[
    str | None,
    typer.Option(help="With --table: the column holding each row's cost in seconds."),
]
BenchmarkDirOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder of the shared benchmarks, for --benchmark hwgpt-s|hwgpt-m|hwgpt-l "
        "(default: $NASFORGE_BENCHMARKS).",
    ),
]
EnsembleOption = Annotated[
    int,
    typer.Option(
        help="Retrain this many of the best distinct architectures and save their "
        "ensemble (averaged probabilities) as the model (1: the winner alone).",
    ),
]
EnsembleSelectionOption = Annotated[
    str,
    typer.Option(
        help="How --ensemble chooses members: top (the best K by validation) or forward "
        "(retrain the best 2K, add the one that most lowers the ensemble's validation "
        "loss, K times; Neural Ensemble Search).",
    ),
]
UnorderedOption = Annotated[
    bool,
    typer.Option(
        "--unordered",
        help="With several workers, tell the strategy each result as it arrives: faster, "
        "but the trials then depend on timing (default: in trial order, so that a seed "
        "repeats its trials). Kept by resume.",
    ),
]
