"""`nasforge search` and `nasforge resume`: run an experiment, then retrain and save the winner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from nasforge.arch import Arch
from nasforge.cli.app import app
from nasforge.cli.common import (
    BENCHMARK_DATASETS,
    DEFAULT_BENCHMARK_BUDGET,
    DEFAULT_STORE,
    DEFAULT_TRAIN_BUDGET,
    OWN_SPACE_HELP,
    SPACE_NAMES,
    STRATEGY_NAMES,
    TASKS,
    BenchmarkOption,
    DataOption,
    DeviceOption,
    ExecutorOption,
    FinalEpochsOption,
    FineOption,
    GpusPerTrialOption,
    GroupColumnOption,
    GroupPatternOption,
    HyperparameterOptions,
    ImageSizeOption,
    JsonOption,
    LabelPatternOption,
    LoaderWorkersOption,
    MaxLengthOption,
    MovedSpaceOption,
    NameOption,
    OnnxOption,
    PrecisionOption,
    RayAddressOption,
    SkipBadFilesOption,
    SpaceOptions,
    SpectrogramImageOption,
    StoreOption,
    TestDataOption,
    TestPatternOption,
    TextColumnOption,
    TopOption,
    TrustSpaceCodeOption,
    WinnerFolderOption,
    WorkersOption,
    benchmark_path,
    fresh_name,
    open_existing,
    parse_hyperparameters,
    parse_options,
    pick_name,
    print_best,
    print_task_notes,
    progress_bar,
    stdout_console,
    text_task_options,
    user_errors,
)
from nasforge.errors import ConfigError, StoreError
from nasforge.run.storage import Store

BUDGET_SCHEDULERS = ("sh", "hyperband", "bohb")
BEFORE_TRAINING = ("params", "flops", "latency_ms_predicted")
"""Metrics a training search knows before a candidate trains: a constraint on one skips it."""


@app.command()
@user_errors
def search(
    task: Annotated[str, typer.Option(help=f"Task to train on: {TASKS}.")] = "digits",
    data: DataOption = None,
    label_column: Annotated[
        str | None, typer.Option(help="Label column of a csv task, or of a text task's table.")
    ] = None,
    test_data: TestDataOption = None,
    text_column: TextColumnOption = None,
    fine: FineOption = False,
    max_length: MaxLengthOption = None,
    label_pattern: LabelPatternOption = None,
    test_pattern: TestPatternOption = None,
    spectrogram_image: SpectrogramImageOption = False,
    group_column: GroupColumnOption = None,
    group_pattern: GroupPatternOption = None,
    image_size: ImageSizeOption = None,
    loader_workers: LoaderWorkersOption = None,
    skip_bad_files: SkipBadFilesOption = False,
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
    from nasforge.evaluate.hwgpt_bench import is_hwgpt
    from nasforge.run.budget import Budget
    from nasforge.run.executor import check_executor, make_executor
    from nasforge.run.experiment import Experiment, check_objectives
    from nasforge.run.objective import Constraint, Objective
    from nasforge.run.setup import (
        benchmark_evaluator,
        default_workers,
        training_evaluator,
        trial_gpus,
    )
    from nasforge.run.spec import default_name
    from nasforge.run.storage import Store
    from nasforge.strategy import make_strategy

    if gpus_per_trial > 0:
        device, precision = ray_gpu_settings(device, precision)
    else:
        device, precision = resolve_settings(device, precision)
    on_table = table is not None or is_hwgpt(benchmark)
    use_benchmark = evaluator == "benchmark" or (evaluator == "auto" and benchmark is not None)
    use_benchmark = use_benchmark or on_table
    if latency_table is not None and use_benchmark:
        raise ConfigError("--latency-table is for searches that train candidates, not a table")
    check_executor(executor, workers, ray_address, gpus_per_trial)
    if evaluator not in ("auto", "train", "benchmark", "nb301"):
        raise ConfigError(
            f"unknown evaluator {evaluator!r}; choose from auto, train, benchmark, nb301"
        )
    use_benchmark = use_benchmark or evaluator == "nb301"
    default_budget = DEFAULT_BENCHMARK_BUDGET if use_benchmark else DEFAULT_TRAIN_BUDGET
    limits = Budget(
        queries=default_budget if budget is None else budget,
        simulated_seconds=simulated_seconds,
        wall_seconds=wall_seconds,
        epochs=epochs_budget,
    )
    goals = [Objective.parse(text) for text in objective] if objective else None
    check_search_ensemble(
        ensemble,
        ensemble_selection,
        trains=not use_benchmark,
        final_epochs=final_epochs,
        queries=limits.queries,
        objectives=len(goals or ()),
    )
    limits_on_metrics = [Constraint.parse(text) for text in constraint or []]
    space_params = parse_options(space_option or [], what="space option")
    hyperparameters = parse_hyperparameters(hp or [])
    if on_table:
        search_space, chosen_evaluator, goals = table_search(
            table, decisions, benchmark, benchmark_dir, goals, report, cost_column
        )
        if space is not None or hyperparameters:
            raise ConfigError("a table search's space is the table's rows: drop --space and --hp")
    elif evaluator == "nb301":
        from nasforge.run.table_setup import nb301_parts

        search_space, chosen_evaluator = nb301_parts(
            space or "darts", space_params, hyperparameters, benchmark, fidelity=fidelity or 98
        )
        typer.echo(f"note: {chosen_evaluator.note}", err=True)
    elif use_benchmark:
        search_space, chosen_evaluator = benchmark_evaluator(
            space or "nb201",
            space_params,
            hyperparameters,
            benchmark_path(benchmark),
            dataset=dataset,
            fidelity=fidelity or 200,
        )
    else:
        search_space, chosen_evaluator = training_evaluator(
            task,
            data,
            space,
            space_params,
            hyperparameters,
            label_column=label_column,
            task_options=text_task_options(
                task,
                test_data,
                text_column,
                fine,
                max_length,
                label_pattern,
                test_pattern,
                spectrogram_image,
                group_column,
                group_pattern,
                image_size,
                loader_workers,
                skip_bad_files,
            ),
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            augment=augment,
            threads=threads,
            time_limit=time_limit,
            seed=seed,
            screen=[c.to_dict() for c in limits_on_metrics if c.metric in BEFORE_TRAINING],
            latency_table=str(latency_table.resolve()) if latency_table else None,
            device=device,
            precision=precision,
        )
        print_task_notes(getattr(chosen_evaluator, "task", None))
        if final_epochs < 0:
            raise ConfigError(f"--final-epochs must be >= 0, not {final_epochs}")
    strategy_options = parse_options(option or [])
    if strategy in BUDGET_SCHEDULERS and not {"budgets", "min_budget", "max_budget"} & set(
        strategy_options
    ):
        # Rungs that the evaluator can measure: NB201's two schedules, or epochs up to --epochs.
        if on_table:
            pass  # a table has no fidelity: the scheduler's default rungs, all the same row
        elif evaluator == "nb301":
            strategy_options["budgets"] = (11.0, 33.0, 98.0)  # epochs, eta = 3
        elif use_benchmark:
            strategy_options["budgets"] = (12.0, 200.0)
        else:
            strategy_options.update(min_budget=max(1, epochs // 9), max_budget=epochs)
    chosen = make_strategy(strategy, search_space, seed=seed, **strategy_options)
    check_objectives(chosen, chosen_evaluator, goals, limits_on_metrics)
    if warm_start and warm_start_from:
        raise ConfigError("choose --warm-start (a zero-cost proxy) or --warm-start-from, not both")
    if warm_start_from:
        chosen = transferred(
            warm_start_from, strategy, strategy_options, search_space, top=warm_start_top, seed=seed
        )
    if warm_start:
        chosen = warm_started(
            strategy,
            strategy_options,
            search_space,
            chosen_evaluator,
            warm_start,
            sample=warm_start_sample,
            top=warm_start_top,
            seed=seed,
        )
    with Store(store) as journal:
        base_name = default_name(
            {
                "space": {"name": search_space.name},
                "strategy": {"name": strategy, "seed": seed},
                "evaluator": {"name": chosen_evaluator.name, "params": chosen_evaluator.config()},
            }
        )
        experiment_name = name or fresh_name(journal, base_name)
        existing = journal.get_experiment(name) if name is not None else None
        if existing is not None and not journal.live_runs(existing.id):
            raise StoreError(
                f"experiment {name!r} already exists in {store}; "
                "continue it with 'nasforge resume' or pick another --name"
            )
        if existing is not None:
            typer.echo(f"joining experiment {name!r}, which another process is running", err=True)
        winner_folder = out or Path("models") / experiment_name
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
        if workers is None and executor == "local":
            workers = default_workers(chosen_evaluator)
        experiment = Experiment(
            search_space,
            chosen,
            chosen_evaluator,
            budget=limits,
            objective=goals,
            constraints=limits_on_metrics,
            store=journal,
            name=experiment_name,
            executor=make_executor(
                executor,
                workers=workers,
                threads_per_worker=threads,
                ray_address=ray_address,
                gpus=trial_gpus(chosen_evaluator),
                gpus_per_trial=gpus_per_trial,
            ),
            settings=settings,
            ordered=not unordered,
        )
        run_and_report(
            experiment,
            journal,
            top=top,
            as_json=as_json,
            onnx=onnx,
            final_epochs=final_epochs,
            out=winner_folder,
            ensemble=ensemble,
            ensemble_selection=ensemble_selection,
        )


def check_search_ensemble(
    k: int, selection: str, *, trains: bool, final_epochs: int, queries: int | None, objectives: int
) -> None:
    """Refuse, before anything runs, an --ensemble the search cannot give."""
    from nasforge.evaluate.ensemble import check_ensemble

    check_ensemble(k, selection)
    if k == 1:
        return
    if not trains:
        raise ConfigError(
            "--ensemble retrains the best architectures: it needs a search that trains "
            "candidates, not a benchmark or a table"
        )
    if final_epochs == 0:
        raise ConfigError("--ensemble retrains the best architectures: give --final-epochs > 0")
    if objectives > 1:
        raise ConfigError("--ensemble needs a single objective to rank architectures by")
    if queries is not None and queries < k:
        raise ConfigError(
            f"--ensemble {k} needs {k} distinct evaluated architectures, but --budget {queries} "
            f"evaluates at most {queries}"
        )


def table_search(
    table: Path | None,
    decisions: str | None,
    benchmark: Path | None,
    benchmark_dir: Path | None,
    goals: list[Any] | None,
    report: str | None,
    cost_column: str | None,
) -> tuple[Any, Any, list[Any]]:
    """The space and evaluator of ``--table`` or ``--benchmark hwgpt-*`` (notes on stderr)."""
    import os

    from nasforge.run.table_setup import hwgpt_parts, table_parts

    shown = _columns(report)
    if table is not None:
        if benchmark is not None:
            raise ConfigError("choose --table FILE or --benchmark, not both")
        if not decisions:
            raise ConfigError("--table needs --decisions COL[,COL...]: the decision columns")
        space, evaluator = table_parts(
            table, _columns(decisions), goals or [], report=shown, cost_column=cost_column
        )
    else:
        if decisions:
            raise ConfigError(
                f"--benchmark {benchmark} knows its decision columns: drop --decisions"
            )
        where = benchmark_dir or os.environ.get("NASFORGE_BENCHMARKS")
        space, evaluator, goals = hwgpt_parts(
            str(benchmark), where, goals, report=shown, cost_column=cost_column
        )
    for note in space.data.notes:
        typer.echo(f"note: {note}", err=True)
    return space, evaluator, list(goals or [])


def _columns(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def transferred(
    text: str, strategy: str, options: dict[str, Any], space: Any, *, top: int, seed: int
) -> Any:
    """`strategy` warm-started from experiment ``STORE:NAME`` (see nasforge.run.transfer)."""
    from nasforge.run.transfer import load_transfer_source, transfer_strategy

    source = load_transfer_source(text, space, top=top)
    chosen = transfer_strategy(strategy, options, space, source, seed=seed)
    typer.echo(
        f"warm start from {source.source}: {len(source.prior)} prior archs inform the "
        f"strategy; its best {len(source.seeds)} are evaluated first",
        err=True,
    )
    return chosen


def warm_started(
    strategy: str,
    options: dict[str, Any],
    space: Any,
    evaluator: Any,
    proxies: list[str],
    *,
    sample: int,
    top: int,
    seed: int,
) -> Any:
    """`strategy` wrapped in a WarmStart whose seeds are the best of `sample` random archs
    by `proxies`, scored on the task's mini-batch, or without data on the benchmark."""
    import time

    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.proxies import ProxyBatch, ProxyError, get_proxy, proxy_names
    from nasforge.proxies.warm_start import warm_start_strategy, zero_cost_seeds

    if strategy == "warm-start":
        raise ConfigError(
            "--warm-start wraps the strategy given with --strategy; choose that one, "
            "not warm-start itself"
        )
    if sample < 1 or top < 1:
        raise ConfigError(
            f"--warm-start-sample and --warm-start-top must be >= 1, not {sample} and {top}"
        )
    if isinstance(evaluator, TrainingEvaluator):
        task = evaluator.task
        batch = ProxyBatch.from_arrays(
            task.x_train, task.y_train, task.num_classes, size=64, seed=seed
        )
    else:
        batch = ProxyBatch(input_shape=(3, 32, 32), num_classes=10)
        needing = [name for name in proxies if get_proxy(name).needs_data]
        if needing:
            data_free = [name for name in proxy_names() if not get_proxy(name).needs_data]
            raise ProxyError(
                f"--warm-start {', '.join(needing)} needs a mini-batch of data, and a search on "
                f"the benchmark has no task to draw one from; use a data-free proxy: "
                f"{', '.join(data_free)}"
            )
    scored = [0]
    started = time.perf_counter()
    with progress_bar("warm start") as show:

        def on_progress(done: int, total: int) -> None:
            scored[0] = total
            show(done, total)

        seeds = zero_cost_seeds(
            space,
            batch,
            proxies=proxies,
            sample=sample,
            top=top,
            seed=seed,
            on_progress=on_progress,
        )
    seconds = time.perf_counter() - started
    how = proxies[0] if len(proxies) == 1 else "+".join(proxies) + " (average rank)"
    typer.echo(
        f"warm start: scored {scored[0]} archs with {how} in {seconds:.1f} s; "
        f"seeding {strategy} with {len(seeds)}",
        err=True,
    )
    return warm_start_strategy(strategy, space, seeds, seed=seed, **options)


@app.command()
@user_errors
def resume(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    budget: Annotated[
        int | None, typer.Option(help="New total number of evaluations (default: as stored).")
    ] = None,
    benchmark: Annotated[
        Path | None, typer.Option(help="Use this benchmark table instead of the stored path.")
    ] = None,
    final_epochs: Annotated[
        int | None,
        typer.Option(
            help="Epochs to retrain the winner (0: do not retrain; default: as the search).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the retrained winner (default: as the search; it must be empty).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(help="Rows in the leaderboard (default: as the search).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    onnx: Annotated[
        bool | None,
        typer.Option(
            "--onnx/--no-onnx",
            help="Also write the saved model as MODEL_DIR/model.onnx, checked in onnxruntime "
            "(needs nasforge\\[onnx]; default: as the search).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Evaluations at once (default: as the search).", show_default=False),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where trials run: local or ray (default: as the search).", show_default=False
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join, HOST:PORT (default: as the search).", show_default=False
        ),
    ] = None,
    ensemble: Annotated[
        int | None,
        typer.Option(
            help="Members of the saved ensemble (default: as the search).", show_default=False
        ),
    ] = None,
    space: MovedSpaceOption = None,
    trust_space_code: TrustSpaceCodeOption = False,
    device: Annotated[
        str | None,
        typer.Option(
            help="Train the remaining candidates here: auto, cpu, cuda, cuda:N or mps "
            "(default: as the search).",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="fp32, bf16, fp16 or auto (default: as the search).", show_default=False),
    ] = None,
) -> None:
    """Continue a stopped or killed experiment from its stored trials, with the settings
    its search stored (final epochs, output folder, workers...) unless given again.

    An experiment of your own space imports that space's code only with --trust-space-code
    (the recorded file) or --space (a file you name)."""
    from nasforge.run.budget import Budget
    from nasforge.run.executor import check_executor, make_executor
    from nasforge.run.settings import resumed_settings
    from nasforge.run.setup import default_workers, trial_gpus
    from nasforge.run.spec import experiment_from_config
    from nasforge.space.stored import SpaceConsent

    with open_existing(store) as journal:
        record = journal.experiment(pick_name(journal, name))
        settings = resumed_settings(
            record.config.get("settings"),
            {
                "final_epochs": final_epochs,
                "out": None if out is None else str(out),
                "top": top,
                "onnx": onnx,
                "workers": workers,
                "executor": executor,
                "ray_address": ray_address,
                "ensemble": ensemble,
            },
        )
        if settings["out"] is None:
            settings["out"] = str(Path("models") / record.name)
        if settings["final_epochs"] < 0:
            raise ConfigError(f"--final-epochs must be >= 0, not {settings['final_epochs']}")
        check_executor(
            settings["executor"],
            settings["workers"],
            settings["ray_address"],
            settings["gpus_per_trial"],
        )
        from nasforge.evaluate.ensemble import check_ensemble

        check_ensemble(settings["ensemble"], settings["ensemble_selection"])
        new_budget = None
        if budget is not None:
            new_budget = Budget(**{**record.config["budget"], "queries": budget})
        overrides = {"path": str(benchmark)} if benchmark is not None else None
        experiment = experiment_from_config(
            record.config,
            store=journal,
            name=record.name,
            budget=new_budget,
            evaluator_overrides=overrides,
            consent=SpaceConsent(space, trust_space_code),
            device=device,
            precision=precision,
        )
        experiment.settings = settings
        if journal.live_runs(record.id):
            typer.echo(
                f"joining experiment {record.name!r}, which another process is running", err=True
            )
        workers_now = settings["workers"]
        if workers_now is None and settings["executor"] == "local":
            workers_now = default_workers(experiment.evaluator)
        experiment.executor = make_executor(
            settings["executor"],
            workers=workers_now,
            threads_per_worker=settings["threads"],
            ray_address=settings["ray_address"],
            gpus=trial_gpus(experiment.evaluator),
            gpus_per_trial=settings["gpus_per_trial"],
        )
        run_and_report(
            experiment,
            journal,
            top=settings["top"],
            as_json=as_json,
            onnx=settings["onnx"],
            final_epochs=settings["final_epochs"],
            out=Path(settings["out"]),
            ensemble=settings["ensemble"],
            ensemble_selection=settings["ensemble_selection"],
        )


def run_and_report(
    experiment: Any,
    journal: Store,
    *,
    top: int,
    as_json: bool,
    final_epochs: int = 0,
    out: Path | None = None,
    onnx: bool = False,
    ensemble: int = 1,
    ensemble_selection: str = "top",
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.report.console import leaderboard_table, pareto_table

    retrains = final_epochs > 0 and out is not None
    retrains = retrains and isinstance(experiment.evaluator, TrainingEvaluator)
    if onnx and not retrains:
        raise ConfigError(
            "--onnx exports the retrained winner: it needs a training search with "
            "--final-epochs > 0"
        )
    if onnx:
        from nasforge.export.onnx import require_onnx

        require_onnx()
    if retrains and out is not None and out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    if retrains:
        from nasforge.evaluate.ensemble import check_selection_fits

        check_selection_fits(experiment.evaluator, ensemble, ensemble_selection)
    stderr = Console(stderr=True)
    if validation_groups(experiment.evaluator):
        typer.echo(groups_line(experiment.evaluator.task), err=True)
    so_far = experiment.best_score()  # of the experiment, not only of this run
    best_score: list[float] = [] if so_far is None else [so_far]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} evaluated · best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=as_json,
        disable=not stderr.is_terminal and as_json,
    ) as progress:
        task = progress.add_task(
            experiment.name,
            total=1.0,
            done=0,
            best=f"{best_score[0]:.2f}" if best_score else "-",
        )

        def on_trial(trial: Any, usage: Any) -> None:
            if trial.score is not None and (not best_score or trial.score > best_score[0]):
                best_score[:] = [trial.score]
            progress.update(
                task,
                completed=experiment.budget.fraction(usage),
                done=usage.queries,
                best=f"{best_score[0]:.2f}" if best_score else "-",
            )

        result = experiment.run(on_trial=on_trial)
    payload = {"store": str(journal.path), **result.to_dict(experiment.space)}
    valid_groups = validation_groups(experiment.evaluator)
    if valid_groups:
        payload["valid_groups"] = list(valid_groups)
    shown: tuple[str, ...] = getattr(experiment.evaluator, "report_columns", ())
    if shown:
        payload["report"] = list(shown)
    note = getattr(experiment.evaluator, "note", None)
    if note:
        payload["note"] = note
    if not as_json and result.multi_objective:
        stdout_console().print(pareto_table(result, experiment.space, extra=shown))
    elif not as_json:
        stdout_console().print(
            leaderboard_table(result, experiment.space, experiment.objective, k=top, extra=shown)
        )
    if retrains and experiment.others_running():
        retrains = False
        typer.echo(
            "other processes still run this experiment: the last one to finish retrains the winner",
            err=True,
        )
    if retrains and ensemble > 1 and result.best is not None and not result.multi_objective:
        from nasforge.evaluate.ensemble import check_ensemble

        available = len(result.distinct_ranked(experiment.space))
        check_ensemble(ensemble, ensemble_selection, available=available)
    if result.best is not None and not result.multi_objective:
        from nasforge.evaluate.baselines import search_baseline

        baseline = search_baseline(experiment.evaluator)
        if baseline is not None:
            payload["baseline"] = baseline
    if retrains and out is not None and result.best is not None and not result.multi_objective:
        if ensemble > 1:
            payload["final"] = retrain_ensemble_and_save(
                experiment, result, ensemble, ensemble_selection, final_epochs, out, quiet=as_json
            )
        else:
            payload["final"] = retrain_and_save(
                experiment, Arch.parse(result.best.arch), final_epochs, out, quiet=as_json
            )
        if payload["final"] and payload.get("baseline"):
            from nasforge.evaluate.baselines import with_baseline

            payload["final"] = with_baseline(payload["final"], payload["baseline"])
        if payload["final"]:
            experiment.record_final({**payload["final"], "trial": result.best.number})
        if onnx and payload["final"]:
            from nasforge.cli.export import onnx_line
            from nasforge.export.onnx import export_beside

            payload["onnx"] = export_beside(
                payload["final"]["model_dir"], trust_space_code=True
            ).to_dict()
            if not as_json:
                typer.echo(onnx_line(payload["onnx"]))
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_best(payload)


def validation_groups(evaluator: Any) -> tuple[str, ...]:
    """The groups a training search validates on (none without groups)."""
    from nasforge.evaluate.training import TrainingEvaluator

    if not isinstance(evaluator, TrainingEvaluator):
        return ()
    return evaluator.task.valid_groups


def groups_line(task: Any) -> str:
    shown = ", ".join(task.valid_groups)
    return (
        f"validating on unseen groups: {shown} ({len(task.y_valid)} examples; no candidate "
        "trains on them, the retrained winner does)"
    )


def retrain_and_save(
    experiment: Any, arch: Arch, epochs: int, out: Path, *, quiet: bool
) -> dict[str, Any] | None:
    """Retrain the winner from scratch, test it, save it; None for non-training evaluators."""
    from nasforge.evaluate.training import TrainingEvaluator, retrain

    evaluator = experiment.evaluator
    if not isinstance(evaluator, TrainingEvaluator):
        return None
    if not quiet:
        Console(stderr=True).print(f"Retraining the winner from scratch for {epochs} epochs ...")
    retrained = retrain(evaluator, arch, epochs)
    return save_retrained(experiment.space, arch, evaluator, retrained, out)


def retrain_ensemble_and_save(
    experiment: Any,
    result: Any,
    k: int,
    selection: str,
    epochs: int,
    out: Path,
    *,
    quiet: bool,
) -> dict[str, Any]:
    """The ensemble of the `k` best distinct archs, retrained and saved (`ensemble_final`)."""
    from nasforge.run.final_ensemble import ensemble_final

    def on_member(i: int, n: int, arch: Arch) -> None:
        if not quiet:
            typer.echo(
                f"Retraining {i}/{n} for the ensemble from scratch for {epochs} epochs: "
                f"{experiment.space.format(arch)}",
                err=True,
            )

    return ensemble_final(
        experiment.space,
        experiment.evaluator,
        result,
        k,
        epochs,
        out,
        selection=selection,
        on_member=on_member,
    )


def save_retrained(
    space: Any, arch: Arch, evaluator: Any, retrained: Any, out: Path
) -> dict[str, Any]:
    import dataclasses

    from nasforge.export import save_model
    from nasforge.measure import count_parameters

    metrics = {
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": 100.0 * retrained.report.last_valid_accuracy,
        "epochs": float(retrained.report.epochs_run),
        "params": float(count_parameters(retrained.model)),
        "train_seconds": retrained.report.seconds,
    }
    folder = save_model(
        out,
        space=space,
        arch=arch,
        model=retrained.model,
        task=evaluator.task,
        metrics=metrics,
        train_config=dataclasses.asdict(retrained.config),
        overwrite=True,
    )
    return {
        "arch": space.format(arch),
        "epochs": retrained.report.epochs_run,
        "status": retrained.report.status.value,
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": metrics["valid_accuracy"],
        "model_dir": str(folder),
        # with groups the winner retrains on the validation groups too (Task.for_final_training)
        "valid_trained": bool(evaluator.task.valid_groups),
    }
