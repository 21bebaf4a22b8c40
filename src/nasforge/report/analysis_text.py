"""Decision importance and an explanation for the terminal, from the payloads ``nasforge
importance --json`` and ``explain --json`` print (`nasforge.analysis`)."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text


def importance_view(payload: dict[str, Any]) -> list[RenderableType]:
    """A title line, one table row per decision (share of the variance, best choice, every
    choice's marginal effect), what interactions hold, then any warning and notes."""
    fit = payload["fit_r2"]
    fitted = (
        ""
        if fit is None
        else f"; model fit out of bag: R² {fit:.2f}, Spearman "
        f"{'-' if payload['fit_rank'] is None else format(payload['fit_rank'], '.2f')}"
    )
    table = Table()
    for column in ("decision", "importance", "best"):
        table.add_column(column, justify="right" if column == "importance" else "left")
    table.add_column("marginal effect of each choice (± sd over trees)", overflow="fold")
    for decision in payload["decisions"]:
        effects = sorted(decision["effects"], key=lambda e: -e["effect"])
        table.add_row(
            decision["label"],
            f"{decision['importance']:.1%} ± {decision['sd']:.1%}",
            str(decision["best"]),
            ", ".join(f"{e['choice']} {e['effect']:+.3g}±{e['sd']:#.2g}" for e in effects),
        )
    view: list[RenderableType] = [
        Text.assemble(
            (f"Decision importance in {payload['experiment']}", "bold"),
            f": {payload['metric']} ({payload['direction']}), {payload['trials']} trials{fitted}",
        ),
        table,
        Text(
            f"left to interactions: {payload['interaction_share']:.0%} "
            f"± {payload['interaction_sd']:.0%} of the variance"
        ),
    ]
    if pairs := payload["interactions"]:
        shares = (f"{p['first']} × {p['second']} {p['share']:.1%}" for p in pairs)
        view.append(Text("strongest pairs: " + ", ".join(shares)))
    return view + _warning(payload) + [Text(f"note: {note}") for note in payload["notes"]]


def explanation_view(payload: dict[str, Any]) -> list[RenderableType]:
    """The architecture, its predicted and measured metric, each decision's contribution
    against the average architecture, and the evaluated neighbours one decision away."""
    what = "the best trial" if payload["winner"] else "this architecture"
    measured = payload["measured"]
    table = Table(title="contributions against the average architecture")
    _columns(table, "decision", "choice", "contribution")
    for item in payload["contributions"]:
        sd = f"{item['contribution']:+.3g} ± {item['sd']:#.2g}"
        table.add_row(item["label"], _choice(item), sd)
    table.add_row("interactions", "", f"{payload['interactions']:+.3g}")
    view: list[RenderableType] = [
        Text.assemble((f"Why {what}", "bold"), f" of {payload['experiment']}: {payload['arch']}"),
        Text(
            f"  {payload['metric']} ({payload['direction']}): predicted {payload['predicted']:.4g}"
            + ("" if measured is None else f", measured {measured:.4g}")
            + f"; average architecture {payload['average']:.4g} ({payload['trials']} trials)"
        ),
        table,
        *_warning(payload),
    ]
    if not payload["neighbours"]:
        return [*view, Text("no evaluated architecture differs from it in one decision only")]
    table = Table(title="evaluated neighbours (one decision changed)")
    _columns(table, "decision", "changed to", f"measured {payload['metric']}", "trial")
    for item in payload["neighbours"]:
        table.add_row(item["label"], _choice(item), f"{item['measured']:.4g}", str(item["trial"]))
    return [*view, table]


def _columns(table: Table, *names: str) -> None:
    """Text columns, then right-aligned number columns (from the third)."""
    for i, name in enumerate(names):
        table.add_column(name, justify="right" if i >= 2 else "left")


def _choice(item: dict[str, Any]) -> str:
    return "(inactive)" if item["choice"] is None else str(item["choice"])


def _warning(payload: dict[str, Any]) -> list[RenderableType]:
    if not payload["warning"]:
        return []
    return [Text.assemble(("warning:", "yellow"), f" {payload['warning']}")]
