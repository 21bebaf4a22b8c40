"""`nasforge status`, `best` and `query`: look at stored experiments and at the NB201 table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import (
    BENCHMARK_DATASETS,
    DEFAULT_STORE,
    BenchmarkOption,
    JsonOption,
    NameOption,
    StoreOption,
    opt,
)
from nasforge.errors import ConfigError
from nasforge.report.search_text import best_lines
from nasforge.run.storage import Store


@app.command()
@user_errors
def status(
    store: StoreOption = Path(DEFAULT_STORE),
    name: Annotated[str | None, opt("Only this experiment.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the experiments in a store: task, progress against budget, best score and the
    retrained winner's test accuracy."""
    from nasforge.report.console import status_table
    from nasforge.report.search_text import status_rows
    from nasforge.run.status import experiment_status

    with Store.existing(store) as journal:
        records = [journal.experiment(name)] if name else journal.experiments()
        rows = [experiment_status(journal, record) for record in records]
    payload = {"store": str(store), "experiments": rows}
    print_payload(payload, as_json, lambda _: [status_table(status_rows(rows))])


@app.command()
@user_errors
def best(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the best architecture an experiment has found so far."""
    from nasforge.report.search_text import best_payload

    with Store.existing(store) as journal:
        payload = best_payload(journal, journal.pick_name(name))
    print_payload(payload, as_json, best_lines)


@app.command()
@user_errors
def query(
    arch: Annotated[str, typer.Argument(help="NB201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|.")],
    benchmark: BenchmarkOption = None,
    dataset: Annotated[str, opt(f"Dataset: {BENCHMARK_DATASETS}.")] = "cifar10",
    fidelity: Annotated[
        int | None, opt("Training epochs: 12 or 200 (default); 1-98 for nb301 (98).")
    ] = None,
    as_json: JsonOption = False,
    evaluator_name: Annotated[
        str,
        opt(
            "nb201 (the table), or nb301: a DARTS genotype on the NAS-Bench-301 surrogate in "
            "folder --benchmark.",
            "--evaluator",
        ),
    ] = "nb201",
) -> None:
    """Look up one architecture in the NAS-Bench-201 table, or predict a DARTS genotype with
    the NAS-Bench-301 surrogate (--evaluator nb301)."""
    from nasforge.report.measure_text import query_lines
    from nasforge.run.benchmark_query import query_nb201, query_nb301

    if evaluator_name not in ("nb201", "nb301"):
        raise ConfigError(f"unknown evaluator {evaluator_name!r} for query; choose nb201 or nb301")
    if evaluator_name == "nb301":
        payload = query_nb301(arch, benchmark, epoch=fidelity or 98)
    else:
        payload = query_nb201(arch, benchmark, dataset=dataset, fidelity=fidelity or 200)
    print_payload(
        payload, as_json, lambda p: query_lines(p, dataset=dataset, fidelity=fidelity or 200)
    )
