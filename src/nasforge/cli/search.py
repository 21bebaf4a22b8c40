"""`nasforge search`: run an experiment, then retrain and save the winner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import (
    echo_err,
    echo_note,
    parse_hyperparameters,
    parse_options,
    progress_bar,
    user_errors,
)
from nasforge.cli.options import (
    DEFAULT_STORE,
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
)
from nasforge.cli.run_output import run_and_report
from nasforge.cli.search_options import (
    BenchmarkDirOption,
    BudgetOption,
    ConstraintOption,
    CostColumnOption,
    DatasetOption,
    DecisionsOption,
    EnsembleOption,
    EnsembleSelectionOption,
    EpochsBudgetOption,
    EvaluatorOption,
    FidelityOption,
    LatencyTableOption,
    NameOption,
    ObjectiveOption,
    OptionOption,
    ReportOption,
    SimulatedSecondsOption,
    SpaceOption,
    StrategyOption,
    TableOption,
    TimeLimitOption,
    UnorderedOption,
    WallSecondsOption,
    WarmStartFromOption,
    WarmStartOption,
    WarmStartSampleOption,
    WarmStartTopOption,
)
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError
from nasforge.run.search_finish import Finish


@app.command()
@user_errors
@with_task_options(
    task_help=f"Task to train on: {TASKS}.",
    label_help="Label column of a csv task, or of a text task's table.",
)
def search(
    task_options: TaskOptions = TASK_OPTIONS,
    space: SpaceOption = None,
    space_option: SpaceOptions = None,
    hp: HyperparameterOptions = None,
    strategy: StrategyOption = "evolution",
    option: OptionOption = None,
    budget: BudgetOption = None,
    epochs: Annotated[int, typer.Option(help="Training epochs per candidate.")] = 10,
    final_epochs: FinalEpochsOption = 30,
    time_limit: TimeLimitOption = 120.0,
    lr: Annotated[float, typer.Option(help="Learning rate (unless searched with --hp).")] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Batch size (unless searched with --hp).")] = 64,
    augment: Annotated[bool, typer.Option(help="Random crop and flip for images.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    out: WinnerFolderOption = None,
    benchmark: BenchmarkOption = None,
    evaluator: EvaluatorOption = "auto",
    dataset: DatasetOption = "cifar10",
    fidelity: FidelityOption = None,
    simulated_seconds: SimulatedSecondsOption = None,
    wall_seconds: WallSecondsOption = None,
    epochs_budget: EpochsBudgetOption = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same trials.")] = 0,
    objective: ObjectiveOption = None,
    constraint: ConstraintOption = None,
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    top: TopOption = 10,
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
    warm_start: WarmStartOption = None,
    latency_table: LatencyTableOption = None,
    warm_start_from: WarmStartFromOption = None,
    warm_start_sample: WarmStartSampleOption = 1000,
    warm_start_top: WarmStartTopOption = 10,
    workers: WorkersOption = None,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    gpus_per_trial: GpusPerTrialOption = 0.0,
    table: TableOption = None,
    decisions: DecisionsOption = None,
    report: ReportOption = None,
    cost_column: CostColumnOption = None,
    benchmark_dir: BenchmarkDirOption = None,
    ensemble: EnsembleOption = 1,
    ensemble_selection: EnsembleSelectionOption = "top",
    unordered: UnorderedOption = False,
) -> None:
    """Search for the best architecture; by default train candidates on the digits task.

    Every trial is journaled to the store. With a training evaluator the winner is then
    retrained, tested and saved; with --benchmark, NAS-Bench-201 is queried instead.
    With --warm-start the search first evaluates the archs a zero-cost proxy likes best.
    With --warm-start-from it starts from a finished search of the same space on another task.
    """
    from nasforge.device import ray_gpu_settings, resolve_settings
    from nasforge.objective import Constraint, Objective
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import check_objectives
    from nasforge.run.new_experiment import ExecutorSettings, experiment_name, new_experiment
    from nasforge.run.search_setup import (
        EvaluatorChoice,
        TableSettings,
        TrainingSettings,
        check_search_ensemble,
        scheduler_options,
        search_parts,
    )
    from nasforge.run.settings import search_settings
    from nasforge.run.storage import Store
    from nasforge.run.warm_starts import proxy_warm_started, transferred
    from nasforge.strategy import make_strategy

    settings_of = ray_gpu_settings if gpus_per_trial > 0 else resolve_settings
    device, precision = settings_of(device, precision)
    choice = EvaluatorChoice(evaluator, benchmark, table)
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
        on_note=echo_note,
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
            settings=search_settings(finish, running, top=top),
            ordered=not unordered,
        )
        run_and_report(experiment, journal, finish, top=top, as_json=as_json)
