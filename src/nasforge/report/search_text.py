"""A search's summary as lines of text: the best architecture (or the Pareto front), the
retrained winner, its baseline and the cost, from the payload of
`nasforge.run.search_finish.search_summary` (what ``nasforge search --json`` prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from nasforge.errors import StoreError
from nasforge.report.export_text import onnx_line

if TYPE_CHECKING:
    from nasforge.run.storage import Store

SHOWN_METRICS = (
    "valid_acc",
    "test_acc",
    "accuracy",
    "supernet_valid_acc",
    "child_test_acc",
    "params",
    "latency_ms",
)


def best_payload(journal: Store, name: str) -> dict[str, Any]:
    """The best of experiment `name` so far (or its Pareto front), its retraining where it
    finished, and the winner drawn: what ``nasforge best --json`` prints."""
    from nasforge.arch import Arch
    from nasforge.report.text_picture import render_text
    from nasforge.run.results import SearchResult
    from nasforge.run.spec import objectives_of
    from nasforge.space.stored import read_space

    record = journal.experiment(name)
    try:
        space = read_space(record.config["space"])  # imports no code
    except KeyError as exc:
        raise StoreError(f"experiment config lacks {exc}") from None
    result = SearchResult.from_trials(
        record.name, journal.trials(record.id), record.wall_seconds, objectives_of(record.config)
    )
    payload = {"store": journal.path, **result.to_dict(space)}
    if record.config.get("final"):  # the winner's retraining, recorded when it finished
        payload["final"] = record.config["final"]
    if result.best is not None and not result.multi_objective:
        winner = Arch.parse(result.best.arch)
        payload["picture"] = render_text(space.pictures(winner), winner)
    return payload


def search_lines(payload: dict[str, Any]) -> list[Text | str]:
    """What ``nasforge search`` and ``resume`` print after the leaderboard: the ONNX export
    (a plain line, never wrapped), then `best_lines`."""
    lines: list[Text | str] = [onnx_line(payload["onnx"])] if payload.get("onnx") else []
    return lines + list(best_lines(payload))


def best_lines(payload: dict[str, Any]) -> list[Text]:
    """The best trial (or the Pareto front), the retrained winner or ensemble, the baseline
    and what the search cost; ``str()`` of a line is its plain text."""
    best = payload["best"]
    if not best:
        return [Text(f"No successful trial in {payload['name']!r} yet.")]
    if isinstance(best, list):
        pareto = payload["pareto"]
        reference = ", ".join(f"{k} {v:.4g}" for k, v in (pareto["reference"] or {}).items())
        lines = [
            Text.assemble(
                (f"Pareto front of {payload['name']}", "bold"),
                f": {pareto['size']} architectures over {', '.join(payload['objectives'])}; "
                f"hypervolume {pareto['hypervolume']:.4g} (reference: the worst value of each "
                f"objective, {reference})",
            )
        ]
    else:
        lines = [
            Text.assemble(
                (f"Best of {payload['name']}", "bold"), f" (trial {best['number']}): {best['arch']}"
            )
        ]
        metrics = best["metrics"]
        named = [text.rpartition(":")[0] for text in payload.get("objectives", [])]
        wanted = [*SHOWN_METRICS, *named, *payload.get("report", [])]
        shown = {k: metrics[k] for k in dict.fromkeys(wanted) if k in metrics}
        lines.append(Text("  " + ", ".join(f"{k} {metric_text(k, v)}" for k, v in shown.items())))
        if payload.get("picture"):
            lines.append(Text(payload["picture"]))
    if payload.get("note"):
        lines.append(Text(f"  ({payload['note']})"))
    return lines + _final_lines(payload)


def _final_lines(payload: dict[str, Any]) -> list[Text]:
    final = payload.get("final") or {}
    lines = [
        Text(
            f"  member {i}: {member['arch']}: test accuracy {member['test_accuracy']:.2f}% "
            f"(valid {member['valid_accuracy']:.2f}%)"
        )
        for i, member in enumerate(final.get("members") or [], start=1)
    ]
    if final:
        ensemble = f"{final['arch']}, " if final.get("members") else ""
        note = ", trained on: not held out" if final.get("valid_trained") else ""
        lines.append(
            Text.assemble(
                f"  retrained {final['epochs']} epochs: {ensemble}",
                (f"test accuracy {final['test_accuracy']:.2f}%", "bold"),
                f" (valid {final['valid_accuracy']:.2f}%{note}), saved to {final['model_dir']}",
            )
        )
    baseline = payload.get("baseline") or final.get("baseline")
    if baseline:
        valid = baseline.get("valid_accuracy")
        lines.append(
            Text(
                f"  baseline {baseline.get('arch', '')}: "
                f"test accuracy {baseline['test_accuracy']:.2f}%"
                + (f" (valid {valid:.2f}%)" if valid is not None else "")
                + (
                    ", refit on train+valid for test"
                    if baseline.get("test_fit") == "train+valid"
                    else ""
                )
            )
        )
    if final.get("loses_to_baseline"):
        lines.append(Text(f"  note: {final['loses_to_baseline']}"))
    usage = payload["usage"]
    lines.append(
        Text(
            f"  {payload['trials']} evaluated ({payload['proposals']} proposals), "
            f"evaluation cost {usage['simulated_seconds']:.0f} s, "
            f"{usage['wall_seconds']:.1f} s wall; store {payload['store']}"
        )
    )
    return lines


def metric_text(name: str, value: float) -> str:
    """A metric as the summary shows it: counts with thousands separators, else 2 decimals."""
    return f"{value:,.0f}" if name in ("params", "flops") else f"{value:.2f}"


def status_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """`nasforge.run.status.experiment_status` rows as the text cells of
    `nasforge.report.console.status_table`."""
    shown = [
        {
            k: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            for k, v in r.items()
        }
        for r in rows
    ]
    for row in shown:
        row["best"] = row.pop("best_score")
        row["test acc"] = row.pop("final_test_accuracy")
    return shown
