"""A search as people watch it: a progress bar while trials run, the leaderboard, then the
summary of the best (or the Pareto front) and of the retrained winner; or one JSON object."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from nasforge.cli.common import echo_err, stdout_console
from nasforge.run.search_finish import Finish
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


def run_and_report(
    experiment: Any, journal: Store, finish: Finish, *, top: int, as_json: bool
) -> None:
    """Run ``experiment`` with a progress bar on stderr, print its leaderboard, finish it
    (`nasforge.run.search_finish`) and print its summary (or one JSON object)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nasforge.report.console import leaderboard_table, pareto_table
    from nasforge.run.search_finish import (
        finish_search,
        groups_line,
        search_summary,
        validation_groups,
    )

    retrains = finish.retrains(experiment)
    stderr = Console(stderr=True)
    if validation_groups(experiment.evaluator):
        echo_err(groups_line(experiment.evaluator.task))
    so_far = experiment.best_score()  # of the experiment, not only of this run
    best_score: list[float] = [] if so_far is None else [so_far]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} evaluated · best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=as_json,
        disable=not stderr.is_terminal and as_json,
    ) as progress:
        task = progress.add_task(
            experiment.name,
            total=1.0,
            done=0,
            best=f"{best_score[0]:.2f}" if best_score else "-",
        )

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
    payload = search_summary(experiment, result, journal.path)
    shown = tuple(payload.get("report", ()))
    if not as_json and result.multi_objective:
        stdout_console().print(pareto_table(result, experiment.space, extra=shown))
    elif not as_json:
        stdout_console().print(
            leaderboard_table(result, experiment.space, experiment.objective, k=top, extra=shown)
        )
    payload = finish_search(
        experiment,
        result,
        payload,
        finish,
        retrains=retrains,
        on_line=(lambda line: None) if as_json else echo_err,
        on_note=echo_err,
    )
    if as_json:
        typer.echo(json.dumps(payload))
        return
    if payload.get("onnx"):
        from nasforge.cli.export import onnx_line

        typer.echo(onnx_line(payload["onnx"]))
    print_best(payload)


def print_best(payload: dict[str, Any]) -> None:
    console = stdout_console()
    best = payload["best"]
    if not best:
        console.print(f"No successful trial in {payload['name']!r} yet.")
        return
    if isinstance(best, list):
        pareto = payload["pareto"]
        console.print(
            f"[bold]Pareto front of {payload['name']}[/]: {pareto['size']} architectures over "
            f"{', '.join(payload['objectives'])}; hypervolume {pareto['hypervolume']:.4g} "
            f"(reference: the worst value of each objective, "
            f"{', '.join(f'{k} {v:.4g}' for k, v in (pareto['reference'] or {}).items())})"
        )
    else:
        console.print(
            f"[bold]Best of {payload['name']}[/] (trial {best['number']}): {best['arch']}"
        )
        metrics = best["metrics"]
        named = [text.rpartition(":")[0] for text in payload.get("objectives", [])]
        wanted = [*SHOWN_METRICS, *named, *payload.get("report", [])]
        shown = {k: metrics[k] for k in dict.fromkeys(wanted) if k in metrics}
        console.print("  " + ", ".join(f"{k} {metric_text(k, v)}" for k, v in shown.items()))
        if payload.get("picture"):
            console.print(payload["picture"], markup=False, highlight=False)
    if payload.get("note"):
        console.print(f"  ({payload['note']})")
    usage = payload["usage"]
    final = payload.get("final")
    for i, member in enumerate((final or {}).get("members") or [], start=1):
        console.print(
            f"  member {i}: {member['arch']}: test accuracy {member['test_accuracy']:.2f}% "
            f"(valid {member['valid_accuracy']:.2f}%)",
            markup=False,
            highlight=False,
        )
    if final:
        ensemble = f"{final['arch']}, " if final.get("members") else ""
        console.print(
            f"  retrained {final['epochs']} epochs: {ensemble}"
            f"[bold]test accuracy {final['test_accuracy']:.2f}%[/] "
            f"(valid {final['valid_accuracy']:.2f}%"
            f"{', its groups trained too' if final.get('valid_trained') else ''}), "
            f"saved to {final['model_dir']}",
            highlight=False,
        )
    baseline = payload.get("baseline") or (final or {}).get("baseline")
    if baseline:
        valid = baseline.get("valid_accuracy")
        console.print(
            f"  baseline {baseline.get('arch', '')}: "
            f"test accuracy {baseline['test_accuracy']:.2f}%"
            + (f" (valid {valid:.2f}%)" if valid is not None else ""),
            markup=False,
            highlight=False,
        )
    if final and final.get("loses_to_baseline"):
        console.print(f"  note: {final['loses_to_baseline']}", markup=False, highlight=False)
    console.print(
        f"  {payload['trials']} evaluated ({payload['proposals']} proposals), "
        f"evaluation cost {usage['simulated_seconds']:.0f} s, "
        f"{usage['wall_seconds']:.1f} s wall; "
        f"store {payload['store']}"
    )


def metric_text(name: str, value: float) -> str:
    return f"{value:,.0f}" if name in ("params", "flops") else f"{value:.2f}"
