"""`nasforge importance` and `explain`: which decisions mattered, and why a winner won."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import (
    print_lines,
    user_errors,
)
from nasforge.cli.options import (
    DEFAULT_STORE,
    JsonOption,
    NameOption,
    StoreOption,
)
from nasforge.report.analysis_text import explanation_view, importance_view
from nasforge.run.storage import Store

MetricOption = Annotated[
    str | None,
    typer.Option(
        "--metric",
        help="Metric to explain, NAME or NAME:min (default: the experiment's objective).",
        show_default=False,
    ),
]
SeedOption = Annotated[int, typer.Option(help="Seed of the model (a random forest).")]


@app.command()
@user_errors
def importance(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    metric: MetricOption = None,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Which decisions mattered: each one's share of the variance of the metric over the
    trials (fANOVA on a random forest), its choices' marginal effects, and interactions."""
    from nasforge.analysis import decision_importance, trials_of

    with Store.existing(store) as journal:
        scored = trials_of(journal, journal.pick_name(name), metric)
    result = decision_importance(
        scored.space,
        scored.archs,
        scored.values,
        metric=scored.metric,
        direction=scored.direction,
        seed=seed,
    )
    payload = {"store": str(store), "experiment": scored.experiment, **result.to_dict()}
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_lines(importance_view(payload))


@app.command()
@user_errors
def explain(
    arch: Annotated[
        str | None,
        typer.Argument(
            help="Architecture to explain (default: the best trial).", show_default=False
        ),
    ] = None,
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    metric: MetricOption = None,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Why this architecture: each decision's contribution to its predicted metric against
    the average architecture, and the evaluated architectures one decision away."""
    from nasforge.analysis import explain as explain_arch
    from nasforge.analysis import trials_of

    with Store.existing(store) as journal:
        scored = trials_of(journal, journal.pick_name(name), metric)
    target = scored.archs[scored.best()] if arch is None else scored.space.parse(arch)
    result = explain_arch(
        scored.space,
        scored.archs,
        scored.values,
        target,
        numbers=[t.number for t in scored.trials],
        metric=scored.metric,
        direction=scored.direction,
        seed=seed,
    )
    payload = {
        "store": str(store),
        "experiment": scored.experiment,
        "winner": arch is None,
        **result.to_dict(),
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_lines(explanation_view(payload))
