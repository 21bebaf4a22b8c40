"""`nasforge importance` and `explain`: which decisions mattered, and why a winner won."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import DEFAULT_STORE, JsonOption, NameOption, StoreOption, opt
from nasforge.report.analysis_text import explanation_view, importance_view
from nasforge.run.storage import Store

MetricOption = Annotated[
    str | None,
    opt(
        "Metric to explain, NAME or NAME:min (default: the experiment's objective).",
        "--metric",
        show_default=False,
    ),
]
SeedOption = Annotated[int, opt("Seed of the model (a random forest).")]


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
    from nasforge.analysis.stored import stored_importance

    with Store.existing(store) as journal:
        payload = stored_importance(journal, journal.pick_name(name), metric=metric, seed=seed)
    print_payload(payload, as_json, importance_view)


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
    from nasforge.analysis.stored import stored_explanation

    with Store.existing(store) as journal:
        chosen = journal.pick_name(name)
        payload = stored_explanation(journal, chosen, arch, metric=metric, seed=seed)
    print_payload(payload, as_json, explanation_view)
