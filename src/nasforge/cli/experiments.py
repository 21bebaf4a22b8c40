"""`nasforge status`, `best` and `query`: look at stored experiments and at the NB201 table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import (
    benchmark_path,
    open_existing,
    pick_name,
    print_lines,
    space_of,
    stdout_console,
    user_errors,
)
from nasforge.cli.options import (
    BENCHMARK_DATASETS,
    DEFAULT_STORE,
    BenchmarkOption,
    JsonOption,
    NameOption,
    StoreOption,
)
from nasforge.errors import ConfigError
from nasforge.report.search_text import best_lines
from nasforge.run.spec import objectives_of


@app.command()
@user_errors
def status(
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the experiments in a store: task, progress against budget, best score and the
    retrained winner's test accuracy."""
    from nasforge.report.console import status_table
    from nasforge.report.search_text import status_rows
    from nasforge.run.status import experiment_status

    with open_existing(store) as journal:
        records = [journal.experiment(name)] if name else journal.experiments()
        rows = [experiment_status(journal, record) for record in records]
    if as_json:
        typer.echo(json.dumps({"store": str(store), "experiments": rows}))
        return
    stdout_console().print(status_table(status_rows(rows)))


@app.command()
@user_errors
def best(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the best architecture an experiment has found so far."""
    from nasforge.run.results import SearchResult

    with open_existing(store) as journal:
        record = journal.experiment(pick_name(journal, name))
        space = space_of(record.config)
        result = SearchResult.from_trials(
            record.name,
            journal.trials(record.id),
            record.wall_seconds,
            objectives_of(record.config),
        )
    payload = {"store": str(store), **result.to_dict(space)}
    if record.config.get("final"):  # the winner's retraining, recorded when it finished
        payload["final"] = record.config["final"]
    if result.best is not None and not result.multi_objective:
        from nasforge.arch import Arch
        from nasforge.report.text_picture import render_text

        winner = Arch.parse(result.best.arch)
        payload["picture"] = render_text(space.pictures(winner), winner)
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_lines(best_lines(payload))


@app.command()
@user_errors
def query(
    arch: Annotated[str, typer.Argument(help="NB201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|.")],
    benchmark: BenchmarkOption = None,
    dataset: Annotated[str, typer.Option(help=f"Dataset: {BENCHMARK_DATASETS}.")] = "cifar10",
    fidelity: Annotated[
        int | None, typer.Option(help="Training epochs: 12 or 200 (default); 1-98 for nb301 (98).")
    ] = None,
    as_json: JsonOption = False,
    evaluator_name: Annotated[
        str,
        typer.Option(
            "--evaluator",
            help="nb201 (the table), or nb301: a DARTS genotype on the NAS-Bench-301 surrogate "
            "in folder --benchmark.",
        ),
    ] = "nb201",
) -> None:
    """Look up one architecture in the NAS-Bench-201 table, or predict a DARTS genotype with
    the NAS-Bench-301 surrogate (--evaluator nb301)."""
    from nasforge.evaluate import NB201Benchmark
    from nasforge.space import NB201Space
    from nasforge.space.guess import parse_or_hint

    if evaluator_name == "nb301":
        _query_nb301(arch, benchmark, fidelity or 98, as_json)
        return
    if evaluator_name != "nb201":
        raise ConfigError(f"unknown evaluator {evaluator_name!r} for query; choose nb201 or nb301")
    fidelity = fidelity or 200

    space = NB201Space()
    parsed = parse_or_hint(
        space,
        space.name,
        arch,
        advice=f"the NAS-Bench-201 table holds nb201 archs only (nasforge describe '{arch}' "
        "{flags} describes it)",
    )
    evaluator = NB201Benchmark.from_csv(
        benchmark_path(benchmark), dataset=dataset, fidelity=fidelity
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
    console = stdout_console()
    console.print(f"[bold]{payload['arch']}[/] (row {payload['row']})")
    console.print(f"same function as {payload['canonical']}")
    for key in ("valid_acc", "test_acc"):
        console.print(f"  {key:>10}: {result.metrics[key]:.2f}  ({fidelity} epochs, {dataset})")


def _query_nb301(text: str, benchmark: Path | None, epoch: int, as_json: bool) -> None:
    from nasforge.evaluate.nb301 import NB301Surrogate
    from nasforge.space.darts import DartsSpace

    if benchmark is None:
        raise ConfigError("--evaluator nb301 needs --benchmark DIR: the surrogate's folder")
    space = DartsSpace(distinct_inputs=True)
    parsed = space.parse(text)
    surrogate = NB301Surrogate(benchmark, fidelity=epoch, space=space)
    accuracy, loss, runtime, per_epoch = surrogate.predict([space.to_genotype(parsed)], epoch)[0]
    payload = {
        "arch": space.format(parsed),
        "epoch": epoch,
        "prediction": {
            "valid_acc": 100.0 * float(accuracy),
            "valid_loss": float(loss),
            "runtime_s": float(runtime),
            "seconds_per_epoch": float(per_epoch),
        },
        "note": surrogate.note,
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    console = stdout_console()
    console.print(f"[bold]{payload['arch']}[/]")
    console.print(
        f"  valid_acc {100.0 * accuracy:.2f}% at epoch {epoch} (surrogate prediction), "
        f"valid_loss {loss:.4f}, training time {runtime:.0f} s (surrogate prediction)"
    )
