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
F = TypeVar("F", bound=Callable[..., Any])

StoreOption = Annotated[
    Path, typer.Option("--store", help="SQLite file that journals every trial.")
]
NameOption = Annotated[
    str | None,
    typer.Option("--name", help="Experiment name in the store (default: the only one there)."),
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
    space: Annotated[str, typer.Option(help="Search space name.")] = "nb201",
    benchmark: BenchmarkOption = None,
    dataset: Annotated[
        str, typer.Option(help="Benchmark dataset: cifar10, cifar100, imagenet16.")
    ] = "cifar10",
    strategy: Annotated[
        str, typer.Option(help="random, evolution, local, tpe, optuna.")
    ] = "evolution",
    budget: Annotated[int, typer.Option(help="Number of architectures to evaluate.")] = 200,
    simulated_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much simulated training time.")
    ] = None,
    wall_seconds: Annotated[
        float | None, typer.Option(help="Also stop after this much wall-clock time.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same trials.")] = 0,
    fidelity: Annotated[int, typer.Option(help="Benchmark training epochs: 12 or 200.")] = 200,
    objective: Annotated[
        str, typer.Option(help="Metric to optimize, NAME:max or NAME:min.")
    ] = "valid_acc:max",
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Strategy option KEY=VALUE (repeatable)."),
    ] = None,
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[
        str | None, typer.Option(help="Experiment name (default: SPACE-STRATEGY-seedN).")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in the leaderboard.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Search a space for the best architecture, journaling every trial to the store."""
    from nasforge.evaluate import NB201Benchmark
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import Experiment
    from nasforge.run.objective import Objective
    from nasforge.run.storage import Store
    from nasforge.space import make_space
    from nasforge.strategy import make_strategy

    limits = Budget(queries=budget, simulated_seconds=simulated_seconds, wall_seconds=wall_seconds)
    goal = Objective.parse(objective)
    search_space = make_space(space)
    chosen = make_strategy(strategy, search_space, seed=seed, **_parse_options(option or []))
    if space != "nb201":
        raise ConfigError(f"space {space!r} has no benchmark evaluator yet; use --space nb201")
    evaluator = NB201Benchmark.from_csv(
        _benchmark_path(benchmark), dataset=dataset, fidelity=fidelity
    )
    with Store(store) as journal:
        experiment_name = name or _fresh_name(journal, f"{space}-{strategy}-seed{seed}")
        if name is not None and journal.get_experiment(name) is not None:
            raise StoreError(
                f"experiment {name!r} already exists in {store}; "
                "continue it with 'nasforge resume' or pick another --name"
            )
        experiment = Experiment(
            search_space,
            chosen,
            evaluator,
            budget=limits,
            objective=goal,
            store=journal,
            name=experiment_name,
        )
        _run_and_report(experiment, journal, top=top, as_json=as_json)


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
        _run_and_report(experiment, journal, top=top, as_json=as_json)


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


# -- helpers ----------------------------------------------------------------------------
def _run_and_report(experiment: Any, journal: Any, *, top: int, as_json: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nasforge.report.console import leaderboard_table

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
    if as_json:
        typer.echo(json.dumps(payload))
        return
    _stdout_console().print(
        leaderboard_table(result, experiment.space, experiment.objective, k=top)
    )
    _print_best(payload)


def _print_best(payload: dict[str, Any]) -> None:
    console = _stdout_console()
    best = payload["best"]
    if best is None:
        console.print(f"No successful trial in {payload['name']!r} yet.")
        return
    console.print(f"[bold]Best of {payload['name']}[/] (trial {best['number']}): {best['arch']}")
    metrics = best["metrics"]
    shown = {k: metrics[k] for k in ("valid_acc", "test_acc") if k in metrics}
    console.print("  " + ", ".join(f"{k} {v:.2f}" for k, v in shown.items()))
    usage = payload["usage"]
    console.print(
        f"  {payload['trials']} evaluated ({payload['proposals']} proposals), "
        f"{usage['simulated_seconds']:.0f} simulated s, {usage['wall_seconds']:.1f} wall s; "
        f"store {payload['store']}"
    )


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"strategy option {pair!r} must read KEY=VALUE")
        options[key.strip()] = Arch.parse(f"x={value.strip()}")["x"]
    return options


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
