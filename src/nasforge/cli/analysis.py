"""`nasforge importance` and `explain`: which decisions mattered, and why a winner won."""

from __future__ import annotations

from typing import Annotated

import typer

from nasforge.analysis.stored import StoredAnalysis
from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import JsonOption, NameOption, StoreOption, opt
from nasforge.cli.settings import with_settings
from nasforge.report.analysis_text import explanation_view, importance_view

MetricOption = Annotated[
    str | None,
    opt(
        "Metric to explain, NAME or NAME:min (default: the experiment's objective).",
        "--metric",
        show_default=False,
    ),
]
SeedOption = Annotated[int, opt("Seed of the model (a random forest).")]


ANALYSIS_OPTIONS = {
    "store": StoreOption,
    "name": NameOption,
    "metric": MetricOption,
    "seed": SeedOption,
}


@app.command()
@user_errors
@with_settings(StoredAnalysis, ANALYSIS_OPTIONS, parameter="analysis")
def importance(analysis: StoredAnalysis = StoredAnalysis(), as_json: JsonOption = False) -> None:
    """Which decisions mattered: each one's share of the variance of the metric over the
    trials (fANOVA on a random forest), its choices' marginal effects, and interactions."""
    print_payload(analysis.importance(), as_json, importance_view)


@app.command()
@user_errors
@with_settings(StoredAnalysis, ANALYSIS_OPTIONS, parameter="analysis")
def explain(
    arch: Annotated[
        str | None,
        typer.Argument(
            help="Architecture to explain (default: the best trial).", show_default=False
        ),
    ] = None,
    analysis: StoredAnalysis = StoredAnalysis(),
    as_json: JsonOption = False,
) -> None:
    """Why this architecture: each decision's contribution to its predicted metric against
    the average architecture, and the evaluated architectures one decision away."""
    print_payload(analysis.explanation(arch), as_json, explanation_view)
