"""`nasforge importance` and `explain`: which decisions mattered, and why a winner won."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nasforge.cli.app import app
from nasforge.cli.common import (
    open_existing,
    pick_name,
    stdout_console,
    user_errors,
)
from nasforge.cli.options import (
    DEFAULT_STORE,
    JsonOption,
    NameOption,
    StoreOption,
)

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

    with open_existing(store) as journal:
        scored = trials_of(journal, pick_name(journal, name), metric)
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
    _print_importance(payload)


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

    with open_existing(store) as journal:
        scored = trials_of(journal, pick_name(journal, name), metric)
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
    _print_explanation(payload)


def _print_importance(payload: dict[str, Any]) -> None:
    console = stdout_console()
    fit = payload["fit_r2"]
    console.print(
        f"[bold]Decision importance in {payload['experiment']}[/]: {payload['metric']} "
        f"({payload['direction']}), {payload['trials']} trials"
        + (
            ""
            if fit is None
            else f"; model fit out of bag: R² {fit:.2f}, Spearman {_number(payload['fit_rank'])}"
        )
    )
    table = Table()
    table.add_column("decision")
    table.add_column("importance", justify="right")
    table.add_column("best")
    table.add_column("marginal effect of each choice (± sd over trees)", overflow="fold")
    for decision in payload["decisions"]:
        effects = sorted(decision["effects"], key=lambda e: -e["effect"])
        table.add_row(
            decision["label"],
            f"{decision['importance']:.1%} ± {decision['sd']:.1%}",
            str(decision["best"]),
            ", ".join(f"{e['choice']} {e['effect']:+.3g}±{e['sd']:#.2g}" for e in effects),
        )
    console.print(table)
    console.print(
        f"left to interactions: {payload['interaction_share']:.0%} "
        f"± {payload['interaction_sd']:.0%} of the variance"
    )
    if payload["interactions"]:
        console.print(
            "strongest pairs: "
            + ", ".join(
                f"{p['first']} × {p['second']} {p['share']:.1%}" for p in payload["interactions"]
            )
        )
    if payload["warning"]:
        console.print(f"[yellow]warning:[/] {payload['warning']}")
    for note in payload["notes"]:
        console.print(f"note: {note}")


def _print_explanation(payload: dict[str, Any]) -> None:
    console = stdout_console()
    what = "the best trial" if payload["winner"] else "this architecture"
    measured = payload["measured"]
    console.print(f"[bold]Why {what}[/] of {payload['experiment']}: {payload['arch']}")
    console.print(
        f"  {payload['metric']} ({payload['direction']}): predicted {payload['predicted']:.4g}"
        + ("" if measured is None else f", measured {measured:.4g}")
        + f"; average architecture {payload['average']:.4g} ({payload['trials']} trials)"
    )
    table = Table(title="contributions against the average architecture")
    table.add_column("decision")
    table.add_column("choice")
    table.add_column("contribution", justify="right")
    for item in payload["contributions"]:
        choice = "(inactive)" if item["choice"] is None else str(item["choice"])
        table.add_row(item["label"], choice, f"{item['contribution']:+.3g} ± {item['sd']:#.2g}")
    table.add_row("interactions", "", f"{payload['interactions']:+.3g}")
    console.print(table)
    if payload["warning"]:
        console.print(f"[yellow]warning:[/] {payload['warning']}")
    neighbours = payload["neighbours"]
    if not neighbours:
        console.print("no evaluated architecture differs from it in one decision only")
        return
    table = Table(title="evaluated neighbours (one decision changed)")
    table.add_column("decision")
    table.add_column("changed to")
    table.add_column(f"measured {payload['metric']}", justify="right")
    table.add_column("trial", justify="right")
    for item in neighbours:
        choice = "(inactive)" if item["choice"] is None else str(item["choice"])
        table.add_row(item["label"], choice, f"{item['measured']:.4g}", str(item["trial"]))
    console.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
