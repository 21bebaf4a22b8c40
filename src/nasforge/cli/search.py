"""`nasforge search`: run an experiment, then retrain and save the winner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import (
    BENCHMARK_DATASETS,
    DEFAULT_STORE,
    OWN_SPACE_HELP,
    SPACE_NAMES,
    STRATEGY_NAMES,
    BenchmarkOption,
    DeviceOption,
    ExecutorOption,
    FinalEpochsOption,
    GpusPerTrialOption,
    HyperparameterOptions,
    JsonOption,
    OnnxOption,
    PrecisionOption,
    RayAddressOption,
    SpaceOptions,
    StoreOption,
    TopOption,
    WinnerFolderOption,
    WorkersOption,
    echo_err,
    parse_hyperparameters,
    parse_options,
    progress_bar,
    user_errors,
)
from nasforge.cli.run_output import run_and_report
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError
from nasforge.run.search_finish import Finish
from nasforge.run.search_setup import DEFAULT_BENCHMARK_BUDGET, DEFAULT_TRAIN_BUDGET


def note(line: str) -> None:
    echo_err(f"note: {line}")


@app.command()
@user_errors
@with_task_options(
    task_help=f"Task to train on: {TASKS}.",
    label_help="Label column of a csv task, or of a text task's table.",
)
def search(
    task_options: TaskOptions = TASK_OPTIONS,
    space: Annotated[
        str | None,
        typer.Option(
            help=f"Search space: {SPACE_NAMES} (default: nb201 for images, conv1d for "
            "sequences, textconv for texts, mlp for tables). " + OWN_SPACE_HELP
        ),
    ] = None,
    space_option: SpaceOptions = None,
    hp: HyperparameterOptions = None,
    strategy: Annotated[
        str, typer.Option(help=f"Search strategy: {STRATEGY_NAMES}.")
    ] = "evolution",
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Strategy option KEY=VALUE (repeatable)."),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            help=f"Architectures to evaluate (default {DEFAULT_TRAIN_BUDGET} trained, "
            f"{DEFAULT_BENCHMARK_BUDGET} benchmark queries)."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs per candidate.")] = 10,
    final_epochs: FinalEpochsOption = 30,
    time_limit: Annotated[
        float | None, typer.Option(help="Seconds one candidate may train before it fails.")
    ] = 120.0,
    lr: Annotated[float, typer.Option(help="Learning rate (unless searched with --hp).")] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Batch size (unless searched with --hp).")] = 64,
    augment: Annotated[bool, typer.Option(help="Random crop and flip for images.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    out: WinnerFolderOption = None,
    benchmark: BenchmarkOption = None,
    evaluator: Annotated[
        str,
        typer.Option(
            help="train, benchmark, auto (benchmark if --benchmark is given), or nb301 "
            "(--space darts on the NAS-Bench-301 surrogate in folder --benchmark)."
        ),
    ] = "auto",
    dataset: Annotated[
        str, typer.Option(help=f"Benchmark dataset: {BENCHMARK_DATASETS}.")
    ] = "cifar10",
    fidelity: Annotated[
        int | None,
        typer.Option(help="Benchmark training epochs: 12 or 200 (default), 1-98 for nb301 (98)."),
    ] = None,
    simulated_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much simulated training time.")
    ] = None,
    wall_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much wall-clock time.")
    ] = None,
    epochs_budget: Annotated[
        float | None,
        typer.Option(
            help="Also stop after this many training epochs in all (a continued trial pays "
            "only for its new epochs): the fair budget for multi-fidelity schedulers."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same trials.")] = 0,
    objective: Annotated[
        list[str] | None,
        typer.Option(
            help="Metric to optimize, NAME:max or NAME:min (default: validation accuracy); "
            "repeat for a multi-objective search."
        ),
    ] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option(help="Hard limit NAME<=VALUE or NAME>=VALUE (repeatable)."),
    ] = None,
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[
        str | None, typer.Option(help="Experiment name (default: SPACE-STRATEGY-seedN).")
    ] = None,
    top: TopOption = 10,
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
    warm_start: Annotated[
        list[str] | None,
        typer.Option(
            "--warm-start",
            metavar="PROXY",
            help="Evaluate first the best archs of a random sample by this zero-cost proxy, "
            "e.g. synflow (repeatable: ranked by the average rank).",
        ),
    ] = None,
    latency_table: Annotated[
        Path | None,
        typer.Option(
            help="A latency table (nasforge latency build) for this space and task: every "
            "candidate gets latency_ms_predicted, which objectives and constraints may use.",
        ),
    ] = None,
    warm_start_from: Annotated[
        str | None,
        typer.Option(
            "--warm-start-from",
            metavar="STORE:NAME",
            help="Transfer: start from finished experiment NAME of store file STORE, a search "
            "of the same space on another task: its best archs are evaluated first "
            "(--warm-start-top of them) and all its trials inform the strategy's model.",
        ),
    ] = None,
    warm_start_sample: Annotated[
        int, typer.Option(help="Random architectures the warm start scores.")
    ] = 1000,
    warm_start_top: Annotated[
        int, typer.Option(help="Best-scoring architectures the warm start seeds the search with.")
    ] = 10,
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    gpus_per_trial: GpusPerTrialOption = 0.0,
    table: Annotated[
        Path | None,
        typer.Option(
            help="Search the rows of this table (CSV) instead: name its --decisions and "
            "--objective columns.",
        ),
    ] = None,
    decisions: Annotated[
        str | None,
        typer.Option(
            help="With --table: the decision columns, COL[,COL...] (empty cell: inactive)."
        ),
    ] = None,
    report: Annotated[
        str | None,
        typer.Option(help="With --table: columns to show beside the objectives, never chosen by."),
    ] = None,
    cost_column: Annotated[
        str | None,
        typer.Option(help="With --table: the column holding each row's cost in seconds."),
    ] = None,
    benchmark_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the shared benchmarks, for --benchmark hwgpt-s|hwgpt-m|hwgpt-l "
            "(default: $NASFORGE_BENCHMARKS).",
        ),
    ] = None,
    ensemble: Annotated[
        int,
        typer.Option(
            help="Retrain this many of the best distinct architectures and save their "
            "ensemble (averaged probabilities) as the model (1: the winner alone).",
        ),
    ] = 1,
    ensemble_selection: Annotated[
        str,
        typer.Option(
            help="How --ensemble chooses members: top (the best K by validation) or forward "
            "(retrain the best 2K, add the one that most lowers the ensemble's validation "
            "loss, K times; Neural Ensemble Search).",
        ),
    ] = "top",
    unordered: Annotated[
        bool,
        typer.Option(
            "--unordered",
            help="With several workers, tell the strategy each result as it arrives: faster, "
            "but the trials then depend on timing (default: in trial order, so that a seed "
            "repeats its trials). Kept by resume.",
        ),
    ] = False,
) -> None:
    """Search for the best architecture; by default train candidates on the digits task.

    Every trial is journaled to the store. With a training evaluator the winner is then
    retrained, tested and saved; with --benchmark, NAS-Bench-201 is queried instead.
    With --warm-start the search first evaluates the archs a zero-cost proxy likes best.
    With --warm-start-from it starts from a finished search of the same space on another task.
    """
    from nasforge.device import ray_gpu_settings, resolve_settings
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import check_objectives
    from nasforge.run.new_experiment import ExecutorSettings, experiment_name, new_experiment
    from nasforge.run.objective import Constraint, Objective
    from nasforge.run.search_setup import (
        EvaluatorChoice,
        TableSettings,
        TrainingSettings,
        check_search_ensemble,
        scheduler_options,
        search_parts,
    )
    from nasforge.run.storage import Store
    from nasforge.run.warm_starts import proxy_warm_started, transferred
    from nasforge.strategy import make_strategy

    settings_of = ray_gpu_settings if gpus_per_trial > 0 else resolve_settings
    device, precision = settings_of(device, precision)
    choice = EvaluatorChoice(evaluator, benchmark, table)
    if latency_table is not None and choice.looks_up and evaluator != "nb301":
        raise ConfigError("--latency-table is for searches that train candidates, not a table")
    running = ExecutorSettings(executor, workers, threads, ray_address, gpus_per_trial)
    running.check()
    limits = Budget(
        queries=choice.default_budget() if budget is None else budget,
        simulated_seconds=simulated_seconds,
        wall_seconds=wall_seconds,
        epochs=epochs_budget,
    )
    goals = [Objective.parse(text) for text in objective] if objective else None
    check_search_ensemble(
        ensemble,
        ensemble_selection,
        trains=not choice.looks_up,
        final_epochs=final_epochs,
        queries=limits.queries,
        objectives=len(goals or ()),
    )
    limits_on_metrics = [Constraint.parse(text) for text in constraint or []]
    training = TrainingSettings(
        epochs, lr, batch_size, augment, threads, time_limit, seed, device, precision
    )
    training.latency_table, training.constraints = latency_table, limits_on_metrics
    search_space, chosen_evaluator, goals = search_parts(
        choice,
        task=task_options,
        space=space,
        space_params=parse_options(space_option or [], what="space option"),
        hyperparameters=parse_hyperparameters(hp or []),
        goals=goals,
        training=training,
        tables=TableSettings(decisions, report, cost_column, benchmark_dir),
        dataset=dataset,
        fidelity=fidelity,
        on_note=note,
    )
    if not choice.looks_up and final_epochs < 0:
        raise ConfigError(f"--final-epochs must be >= 0, not {final_epochs}")
    options = scheduler_options(strategy, parse_options(option or []), choice, epochs)
    chosen = make_strategy(strategy, search_space, seed=seed, **options)
    check_objectives(chosen, chosen_evaluator, goals, limits_on_metrics)
    if warm_start and warm_start_from:
        raise ConfigError("choose --warm-start (a zero-cost proxy) or --warm-start-from, not both")
    if warm_start_from:
        chosen = transferred(
            warm_start_from,
            strategy,
            options,
            search_space,
            top=warm_start_top,
            seed=seed,
            on_note=echo_err,
        )
    if warm_start:
        with progress_bar("warm start") as show:
            chosen = proxy_warm_started(
                strategy,
                options,
                search_space,
                chosen_evaluator,
                warm_start,
                sample=warm_start_sample,
                top=warm_start_top,
                seed=seed,
                on_progress=show,
                on_note=echo_err,
            )
    with Store(store) as journal:
        named = experiment_name(
            journal,
            name,
            space=search_space,
            strategy=strategy,
            seed=seed,
            evaluator=chosen_evaluator,
            on_note=echo_err,
        )
        winner_folder = out or Path("models") / named
        finish = Finish(final_epochs, winner_folder, onnx, ensemble, ensemble_selection)
        settings = {
            "final_epochs": final_epochs,
            "out": str(winner_folder),
            "workers": workers,
            "executor": executor,
            "ray_address": ray_address,
            "threads": threads,
            "gpus_per_trial": gpus_per_trial,
            "onnx": onnx,
            "top": top,
            "ensemble": ensemble,
            "ensemble_selection": ensemble_selection,
        }
        experiment = new_experiment(
            journal,
            named,
            search_space,
            chosen,
            chosen_evaluator,
            budget=limits,
            objective=goals,
            constraints=limits_on_metrics,
            executor=running,
            settings=settings,
            ordered=not unordered,
        )
        run_and_report(experiment, journal, finish, top=top, as_json=as_json)
