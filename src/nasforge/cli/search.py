"""`nasforge search`: run an experiment, then retrain and save the winner."""

from __future__ import annotations

from typing import Annotated

from nasforge.cli.app import app
from nasforge.cli.common import echo_err, echo_note, user_errors
from nasforge.cli.options import (
    BENCHMARK_DATASETS,
    HYPERPARAMETER_NAMES,
    OWN_SPACE_HELP,
    SPACE_NAMES,
    STRATEGY_NAMES,
    BenchmarkOption,
    DeviceOption,
    JsonOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
    StoreOption,
    ThreadsOption,
    opt,
)
from nasforge.cli.run_output import run_and_report
from nasforge.cli.settings import Parsed, with_settings
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.report.progress import progress_bar
from nasforge.run.search_request import SearchRequest
from nasforge.run.search_setup import DEFAULT_BENCHMARK_BUDGET, DEFAULT_TRAIN_BUDGET
from nasforge.run.setting_words import parse_hyperparameters, parse_options

SEARCH_OPTIONS = {
    "space": opt(f"Search space: {SPACE_NAMES} (default: nb201 for images, conv1d for sequences, "
                 f"textconv for texts, mlp for tables). {OWN_SPACE_HELP}"),
    "space_params": Parsed(SpaceOptions, lambda given: parse_options(given or [], "space option")),
    "hyperparameters": Parsed(
        Annotated[list[str] | None, opt(f"Search a hyperparameter too: lr=0.01,0.1 "
                                        f"({HYPERPARAMETER_NAMES}).", "--hp")],
        lambda hp: parse_hyperparameters(hp or []),
    ),
    "strategy": opt(f"Search strategy: {STRATEGY_NAMES}."),
    "strategy_options": Parsed(
        Annotated[list[str] | None, opt("Strategy option KEY=VALUE (repeatable).", "--option",
                                        "-o")],
        lambda given: parse_options(given or []),
    ),
    "budget": opt(f"Architectures to evaluate (default {DEFAULT_TRAIN_BUDGET} trained, "
                  f"{DEFAULT_BENCHMARK_BUDGET} benchmark queries)."),
    "epochs": opt("Training epochs per candidate."),
    "final_epochs": opt("Epochs to retrain the winner (0: do not retrain)."),
    "time_limit": opt("Seconds one candidate may train before it fails."),
    "lr": opt("Learning rate (unless searched with --hp)."),
    "batch_size": opt("Batch size (unless searched with --hp)."),
    "augment": opt(
        "Random crop and flip for images; SpecAugment for audio. Default: on for audio "
        "(log-mel sequences), off otherwise."
    ),
    "threads": ThreadsOption,
    "device": DeviceOption,
    "precision": PrecisionOption,
    "out": opt("Folder for the retrained winner (default: models/NAME)."),
    "benchmark": BenchmarkOption,
    "evaluator": opt("train, benchmark, auto (benchmark if --benchmark is given), or nb301 "
                     "(--space darts on the NAS-Bench-301 surrogate in folder --benchmark)."),
    "dataset": opt(f"Benchmark dataset: {BENCHMARK_DATASETS}."),
    "fidelity": opt("Benchmark training epochs: 12 or 200 (default), 1-98 for nb301 (98)."),
    "simulated_seconds": opt("Also stop after this much simulated training time."),
    "wall_seconds": opt("Also stop after this much wall-clock time."),
    "epochs_budget": opt("Also stop after this many training epochs in all (a continued trial "
                         "pays only for its new epochs): the fair budget for multi-fidelity "
                         "schedulers."),
    "seed": opt("Seed: the same seed gives the same trials."),
    "objective": opt("Metric to optimize, NAME:max or NAME:min (default: validation "
                     "accuracy); repeat for a multi-objective search."),
    "constraint": opt("Hard limit NAME<=VALUE or NAME>=VALUE (repeatable)."),
    "store": StoreOption,
    "name": opt("Experiment name (default: SPACE-STRATEGY-seedN)."),
    "top": opt("Rows in the leaderboard."),
    "onnx": OnnxOption,
    "warm_start": opt("Evaluate first the best archs of a random sample by this zero-cost "
                      "proxy, e.g. synflow (repeatable: ranked by the average rank).",
                      "--warm-start", metavar="PROXY"),
    "latency_table": opt("A latency table (nasforge latency build) for this space and task: "
                         "every candidate gets latency_ms_predicted, which objectives and "
                         "constraints may use."),
    "warm_start_from": opt("Transfer: start from finished experiment NAME of store file STORE, "
                           "a search of the same space on another task: its best archs are "
                           "evaluated first (--warm-start-top of them) and all its trials "
                           "inform the strategy's model.", "--warm-start-from",
                           metavar="STORE:NAME"),
    "warm_start_sample": opt("Random architectures the warm start scores."),
    "warm_start_top": opt("Best-scoring architectures the warm start seeds the search with."),
    "workers": opt("Evaluations at once (default: one per core when candidates are trained, "
                   "else 1). A seed repeats its trials with any number (unless --unordered).",
                   "--workers", show_default=False),
    "executor": opt("Where trials run: local (processes here) or ray (a Ray cluster).",
                    "--executor"),
    "ray_address": opt("Ray cluster to join, HOST:PORT (default: start a local Ray instance).",
                       "--ray-address", show_default=False),
    "gpus_per_trial": opt("With --executor ray: GPUs Ray reserves for each trial (fractions "
                          "share one, e.g. 0.5); trials then train on cuda.", "--gpus-per-trial"),
    "table": opt("Search the rows of this table (CSV) instead: name its --decisions and "
                 "--objective columns."),
    "decisions": opt("With --table: the decision columns, COL[,COL...] (empty cell: inactive)."),
    "report": opt("With --table: columns to show beside the objectives, never chosen by."),
    "cost_column": opt("With --table: the column holding each row's cost in seconds."),
    "benchmark_dir": opt("Folder of the shared benchmarks, for --benchmark "
                         "hwgpt-s|hwgpt-m|hwgpt-l (default: $NASFORGE_BENCHMARKS)."),
    "ensemble": opt("Retrain this many of the best distinct architectures and save their "
                    "ensemble (averaged probabilities) as the model (1: the winner alone)."),
    "ensemble_selection": opt("How --ensemble chooses members: top (the best K by validation) "
                              "or forward (retrain the best 2K, add the one that most lowers "
                              "the ensemble's validation loss, K times; Neural Ensemble "
                              "Search)."),
    "final_data": opt("What the winner (or each member) retrains on: all (the training and "
                      "validation splits; default, except with --ensemble-selection forward, "
                      "which needs the validation split held out) or train (the training "
                      "split alone)."),
    "unordered": opt("With several workers, tell the strategy each result as it arrives: "
                     "faster, but the trials then depend on timing (default: in trial order, "
                     "so that a seed repeats its trials). Kept by resume.", "--unordered"),
}  # fmt: skip
"""The options of `SearchRequest`, in the order of ``nasforge search --help``."""
SEARCH_REQUEST = SearchRequest()
"""The default of the ``request`` parameter, which `with_settings` fills."""


@app.command()
@user_errors
@with_task_options(
    task_help=f"Task to train on: {TASKS}.",
    label_help="Label column of a csv task, or of a text task's table.",
)
@with_settings(SearchRequest, SEARCH_OPTIONS, parameter="request")
def search(
    task_options: TaskOptions = TASK_OPTIONS,
    request: SearchRequest = SEARCH_REQUEST,
    as_json: JsonOption = False,
) -> None:
    """Search for the best architecture; by default train candidates on the digits task.

    Every trial is journaled to the store. With a training evaluator the winner is then
    retrained, tested and saved; with --benchmark, NAS-Bench-201 is queried instead.
    With --warm-start the search first evaluates the archs a zero-cost proxy likes best.
    With --warm-start-from it starts from a finished search of the same space on another task.
    """
    from nasforge.run.search_request import plan_search
    from nasforge.run.storage import Store

    plan = plan_search(request, task_options, on_note=echo_note, on_line=echo_err)
    if request.warm_start:
        with progress_bar("warm start") as show:
            plan.warm_start(on_progress=show, on_line=echo_err)
    with Store(request.store) as journal:
        experiment, finish = plan.experiment(journal, on_line=echo_err)
        run_and_report(experiment, journal, finish, top=request.top, as_json=as_json)
