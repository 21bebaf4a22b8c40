"""The `nasforge` command line: a thin Typer layer over the Python API.

People get a progress bar (stderr) and a leaderboard table; machines get one JSON object on
stdout with ``--json``. Every input error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from nasforge.arch import Arch
from nasforge.errors import ConfigError, NasforgeError, StoreError

if TYPE_CHECKING:
    from nasforge.run.storage import Store

app = typer.Typer(
    name="nasforge",
    help="Neural Architecture Search on PyTorch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_STORE = "nasforge.sqlite"
DEFAULT_TRAIN_BUDGET = 100
DEFAULT_BENCHMARK_BUDGET = 200
SHOWN_METRICS = ("valid_acc", "test_acc", "accuracy", "params", "latency_ms")
TASKS = "digits, mnist1d, cifar10, mnist, fashion_mnist, csv"
F = TypeVar("F", bound=Callable[..., Any])

StoreOption = Annotated[
    Path, typer.Option("--store", help="SQLite file that journals every trial.")
]
NameOption = Annotated[
    str | None,
    typer.Option("--name", help="Experiment name in the store (default: the only one there)."),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        help="Data file or folder for the task (default: $NASFORGE_DATA).", show_default=False
    ),
]
SpaceOptions = Annotated[
    list[str] | None,
    typer.Option("--space-option", "-s", help="Space setting KEY=VALUE, e.g. channels=8."),
]
HyperparameterOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--hp", help="Search a hyperparameter too: lr=0.01,0.1 (lr, weight_decay, batch_size)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
BenchmarkOption = Annotated[
    Path | None,
    typer.Option(
        "--benchmark",
        help="NAS-Bench-201 table (nb201.csv); default: $NASFORGE_NB201.",
        show_default=False,
    ),
]


def _user_errors(command: F) -> F:
    """Turn a NasforgeError into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NasforgeError as exc:
            typer.echo(f"nasforge: error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@_user_errors
def search(
    task: Annotated[str, typer.Option(help=f"Task to train on: {TASKS}.")] = "digits",
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    space: Annotated[
        str | None,
        typer.Option(help="Search space (default: nb201 for images, conv1d, mlp for tables)."),
    ] = None,
    space_option: SpaceOptions = None,
    hp: HyperparameterOptions = None,
    strategy: Annotated[
        str, typer.Option(help="random, evolution, local, tpe, optuna.")
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
    final_epochs: Annotated[
        int, typer.Option(help="Epochs to retrain the winner (0: do not retrain).")
    ] = 30,
    time_limit: Annotated[
        float | None, typer.Option(help="Seconds one candidate may train before it fails.")
    ] = 120.0,
    lr: Annotated[float, typer.Option(help="Learning rate (unless searched with --hp).")] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Batch size (unless searched with --hp).")] = 64,
    augment: Annotated[bool, typer.Option(help="Random crop and flip for images.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the retrained winner (default: models/NAME).")
    ] = None,
    benchmark: BenchmarkOption = None,
    evaluator: Annotated[
        str, typer.Option(help="train, benchmark, or auto (benchmark if --benchmark is given).")
    ] = "auto",
    dataset: Annotated[
        str, typer.Option(help="Benchmark dataset: cifar10, cifar100, imagenet16.")
    ] = "cifar10",
    fidelity: Annotated[int, typer.Option(help="Benchmark training epochs: 12 or 200.")] = 200,
    simulated_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much simulated training time.")
    ] = None,
    wall_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much wall-clock time.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same trials.")] = 0,
    objective: Annotated[
        str | None,
        typer.Option(
            help="Metric to optimize, NAME:max or NAME:min (default: validation accuracy)."
        ),
    ] = None,
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[
        str | None, typer.Option(help="Experiment name (default: SPACE-STRATEGY-seedN).")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in the leaderboard.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Search for the best architecture; by default train candidates on the digits task.

    Every trial is journaled to the store. With a training evaluator the winner is then
    retrained, tested and saved; with --benchmark, NAS-Bench-201 is queried instead.
    """
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import Experiment
    from nasforge.run.objective import Objective
    from nasforge.run.setup import (
        benchmark_evaluator,
        training_evaluator,
    )
    from nasforge.run.storage import Store
    from nasforge.strategy import make_strategy

    use_benchmark = evaluator == "benchmark" or (evaluator == "auto" and benchmark is not None)
    if evaluator not in ("auto", "train", "benchmark"):
        raise ConfigError(f"unknown evaluator {evaluator!r}; choose from auto, train, benchmark")
    default_budget = DEFAULT_BENCHMARK_BUDGET if use_benchmark else DEFAULT_TRAIN_BUDGET
    limits = Budget(
        queries=default_budget if budget is None else budget,
        simulated_seconds=simulated_seconds,
        wall_seconds=wall_seconds,
    )
    goal = Objective.parse(objective) if objective else None
    space_params = _parse_options(space_option or [], what="space option")
    hyperparameters = _parse_hyperparameters(hp or [])
    if use_benchmark:
        search_space, chosen_evaluator = benchmark_evaluator(
            space or "nb201",
            space_params,
            hyperparameters,
            _benchmark_path(benchmark),
            dataset=dataset,
            fidelity=fidelity,
        )
    else:
        search_space, chosen_evaluator = training_evaluator(
            task,
            data,
            space,
            space_params,
            hyperparameters,
            label_column=label_column,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            augment=augment,
            threads=threads,
            time_limit=time_limit,
            seed=seed,
        )
        if final_epochs < 0:
            raise ConfigError(f"--final-epochs must be >= 0, not {final_epochs}")
    chosen = make_strategy(strategy, search_space, seed=seed, **_parse_options(option or []))
    with Store(store) as journal:
        base_name = f"{search_space.name}-{strategy}-seed{seed}"
        experiment_name = name or _fresh_name(journal, base_name)
        if name is not None and journal.get_experiment(name) is not None:
            raise StoreError(
                f"experiment {name!r} already exists in {store}; "
                "continue it with 'nasforge resume' or pick another --name"
            )
        experiment = Experiment(
            search_space,
            chosen,
            chosen_evaluator,
            budget=limits,
            objective=goal,
            store=journal,
            name=experiment_name,
        )
        _run_and_report(
            experiment,
            journal,
            top=top,
            as_json=as_json,
            final_epochs=final_epochs,
            out=out or Path("models") / experiment_name,
        )


@app.command()
@_user_errors
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
        int, typer.Option(help="Epochs to retrain the winner (0: do not retrain).")
    ] = 30,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the retrained winner (default: models/NAME).")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in the leaderboard.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Continue a stopped or killed experiment from its stored trials."""
    from nasforge.run.budget import Budget
    from nasforge.run.spec import experiment_from_config

    with _open_existing(store) as journal:
        record = journal.experiment(_pick_name(journal, name))
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
        )
        _run_and_report(
            experiment,
            journal,
            top=top,
            as_json=as_json,
            final_epochs=final_epochs,
            out=out or Path("models") / record.name,
            overwrite=True,
        )


@app.command()
@_user_errors
def status(
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the experiments in a store: progress against budget and best score."""
    from nasforge.report.console import status_table
    from nasforge.run.results import SearchResult

    rows: list[dict[str, Any]] = []
    with _open_existing(store) as journal:
        records = [journal.experiment(name)] if name else journal.experiments()
        for record in records:
            trials = journal.trials(record.id)
            result = SearchResult.from_trials(record.name, trials, record.wall_seconds)
            planned = record.config.get("budget", {}).get("queries")
            best = result.best
            running = sum(1 for t in trials if not t.finished)
            done = planned is not None and result.usage.queries >= planned
            rows.append(
                {
                    "name": record.name,
                    "space": record.config["space"]["name"],
                    "strategy": record.config["strategy"]["name"],
                    "seed": record.config["strategy"].get("seed"),
                    "evaluated": result.usage.queries,
                    "budget": planned,
                    "best_score": None if best is None else best.score,
                    "state": "finished" if done else "interrupted" if running else "stopped",
                }
            )
    if as_json:
        typer.echo(json.dumps({"store": str(store), "experiments": rows}))
        return
    shown = [
        {
            k: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            for k, v in r.items()
        }
        for r in rows
    ]
    for row in shown:
        row["best"] = row.pop("best_score")
    _stdout_console().print(status_table(shown))


@app.command()
@_user_errors
def best(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the best architecture an experiment has found so far."""
    from nasforge.run.results import SearchResult

    with _open_existing(store) as journal:
        record = journal.experiment(_pick_name(journal, name))
        space = _space_of(record.config)
        result = SearchResult.from_trials(
            record.name, journal.trials(record.id), record.wall_seconds
        )
    payload = {"store": str(store), **result.to_dict(space)}
    if as_json:
        typer.echo(json.dumps(payload))
        return
    _print_best(payload)


@app.command()
@_user_errors
def query(
    arch: Annotated[str, typer.Argument(help="NB201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|.")],
    benchmark: BenchmarkOption = None,
    dataset: Annotated[str, typer.Option(help="cifar10, cifar100 or imagenet16.")] = "cifar10",
    fidelity: Annotated[int, typer.Option(help="Training epochs: 12 or 200.")] = 200,
    as_json: JsonOption = False,
) -> None:
    """Look up one architecture in the NAS-Bench-201 table."""
    from nasforge.evaluate import NB201Benchmark
    from nasforge.space import NB201Space

    space = NB201Space()
    parsed = space.parse(arch)
    evaluator = NB201Benchmark.from_csv(
        _benchmark_path(benchmark), dataset=dataset, fidelity=fidelity
    )
    result = evaluator.evaluate(parsed)
    canonical = space.canonical(parsed)
    payload = {
        "arch": space.format(parsed),
        "canonical": space.format(canonical),
        "row": evaluator.row(parsed),
        "metrics": result.metrics,
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    console = _stdout_console()
    console.print(f"[bold]{payload['arch']}[/] (row {payload['row']})")
    console.print(f"same function as {payload['canonical']}")
    for key in ("valid_acc", "test_acc"):
        console.print(f"  {key:>10}: {result.metrics[key]:.2f}  ({fidelity} epochs, {dataset})")


@app.command()
@_user_errors
def train(
    arch: Annotated[str, typer.Argument(help="The architecture: NB201 string or Arch text.")],
    task: Annotated[str, typer.Option(help=f"Task to train on: {TASKS}.")] = "digits",
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    space: Annotated[
        str | None, typer.Option(help="Search space of ARCH (default: by the task's input).")
    ] = None,
    space_option: SpaceOptions = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 64,
    augment: Annotated[bool, typer.Option(help="Random crop and flip for images.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the initialization and data order.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the trained model in.")] = Path(
        "models/trained"
    ),
    as_json: JsonOption = False,
) -> None:
    """Train one architecture from scratch, report its test accuracy and save it."""
    from nasforge.evaluate.training import retrain
    from nasforge.run.setup import training_evaluator

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    chosen_space, evaluator = training_evaluator(
        task,
        data,
        space,
        _parse_options(space_option or [], what="space option"),
        {},
        label_column=label_column,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment,
        threads=threads,
        seed=seed,
    )
    parsed = chosen_space.parse(arch)
    if not as_json:
        Console(stderr=True).print(
            f"Training {chosen_space.format(parsed)} for {epochs} epochs ..."
        )
    retrained = retrain(evaluator, parsed, epochs)  # type: ignore[arg-type]
    payload = _save_retrained(chosen_space, parsed, evaluator, retrained, out)
    if as_json:
        typer.echo(json.dumps(payload))
        return
    _stdout_console().print(
        f"{payload['arch']}: test accuracy [bold]{payload['test_accuracy']:.2f}%[/] "
        f"after {payload['epochs']} epochs (valid {payload['valid_accuracy']:.2f}%); "
        f"saved to {payload['model_dir']}"
    )


@app.command()
@_user_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A folder saved by search or train.")],
    data: Annotated[Path, typer.Option(help="Inputs: .npz (x or x_test), .npy or .csv.")],
    label_column: Annotated[
        str | None, typer.Option(help="Column to drop from a .csv before predicting.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Predict classes for the inputs in a file with a saved model."""
    from nasforge.export import load_model, read_input_file

    loaded = load_model(model_dir)
    inputs = read_input_file(data, label_column=label_column)
    predictions = loaded.predict(inputs)
    names = loaded.class_names
    labels = [names[int(p)] if names else int(p) for p in predictions]
    if as_json:
        typer.echo(
            json.dumps({"model": str(model_dir), "count": len(labels), "predictions": labels})
        )
        return
    for label in labels:
        typer.echo(str(label))


# -- helpers ----------------------------------------------------------------------------
def _run_and_report(
    experiment: Any,
    journal: Store,
    *,
    top: int,
    as_json: bool,
    final_epochs: int = 0,
    out: Path | None = None,
    overwrite: bool = False,
) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.report.console import leaderboard_table

    retrains = final_epochs > 0 and out is not None
    retrains = retrains and isinstance(experiment.evaluator, TrainingEvaluator)
    if retrains and not overwrite and out is not None and out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    stderr = Console(stderr=True)
    best_score: list[float] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} evaluated · best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=as_json,
        disable=not stderr.is_terminal and as_json,
    ) as progress:
        task = progress.add_task(experiment.name, total=1.0, done=0, best="-")

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
    if not as_json:
        _stdout_console().print(
            leaderboard_table(result, experiment.space, experiment.objective, k=top)
        )
    if retrains and out is not None and result.best is not None:
        payload["final"] = _retrain_and_save(
            experiment, Arch.parse(result.best.arch), final_epochs, out, quiet=as_json
        )
    if as_json:
        typer.echo(json.dumps(payload))
        return
    _print_best(payload)


def _retrain_and_save(
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
    return _save_retrained(experiment.space, arch, evaluator, retrained, out)


def _save_retrained(
    space: Any, arch: Arch, evaluator: Any, retrained: Any, out: Path
) -> dict[str, Any]:
    import dataclasses

    from nasforge.evaluate.cost import count_parameters
    from nasforge.export import save_model

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
    }


def _print_best(payload: dict[str, Any]) -> None:
    console = _stdout_console()
    best = payload["best"]
    if best is None:
        console.print(f"No successful trial in {payload['name']!r} yet.")
        return
    console.print(f"[bold]Best of {payload['name']}[/] (trial {best['number']}): {best['arch']}")
    metrics = best["metrics"]
    shown = {k: metrics[k] for k in SHOWN_METRICS if k in metrics}
    console.print("  " + ", ".join(f"{k} {_metric_text(k, v)}" for k, v in shown.items()))
    usage = payload["usage"]
    final = payload.get("final")
    if final:
        console.print(
            f"  retrained {final['epochs']} epochs: "
            f"[bold]test accuracy {final['test_accuracy']:.2f}%[/] "
            f"(valid {final['valid_accuracy']:.2f}%), saved to {final['model_dir']}"
        )
    console.print(
        f"  {payload['trials']} evaluated ({payload['proposals']} proposals), "
        f"evaluation cost {usage['simulated_seconds']:.0f} s, "
        f"{usage['wall_seconds']:.1f} s wall; "
        f"store {payload['store']}"
    )


def _metric_text(name: str, value: float) -> str:
    return f"{value:,.0f}" if name in ("params", "flops") else f"{value:.2f}"


def _parse_options(pairs: list[str], what: str = "strategy option") -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r} must read KEY=VALUE")
        options[key.strip()] = Arch.parse(f"x={value.strip()}")["x"]
    return options


def _parse_hyperparameters(pairs: list[str]) -> dict[str, list[Any]]:
    """``lr=0.01,0.1`` -> {"lr": [0.01, 0.1]}."""
    searched: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--hp {pair!r} must read NAME=VALUE,VALUE,...")
        searched[key.strip()] = [
            Arch.parse(f"x={value.strip()}")["x"] for value in values.split(",")
        ]
    return searched


def _benchmark_path(given: Path | None) -> str | None:
    return str(given) if given is not None else os.environ.get("NASFORGE_NB201")


def _fresh_name(journal: Store, base: str) -> str:
    candidate, counter = base, 2
    while journal.get_experiment(candidate) is not None:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


def _open_existing(path: Path) -> Store:
    from nasforge.run.storage import Store

    if not path.exists():
        raise StoreError(f"store not found: {path}")
    return Store(path)


def _pick_name(journal: Store, name: str | None) -> str:
    if name is not None:
        return name
    names = [record.name for record in journal.experiments()]
    if len(names) == 1:
        return names[0]
    if not names:
        raise StoreError(f"store {journal.path} holds no experiment")
    raise StoreError(
        f"store {journal.path} holds several experiments; pick one with --name: {', '.join(names)}"
    )


def _space_of(config: dict[str, Any]) -> Any:
    from nasforge.space import make_space

    try:
        return make_space(config["space"]["name"], **config["space"].get("params", {}))
    except KeyError as exc:
        raise StoreError(f"experiment config lacks {exc}") from None


def _stdout_console() -> Console:
    """A console for stdout; piped output gets room for whole NB201 strings on one line."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nasforge")


if __name__ == "__main__":
    main()
