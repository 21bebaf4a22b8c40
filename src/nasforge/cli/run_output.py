"""A search as people watch it: a progress bar while trials run, the leaderboard, then the
summary of the best (or the Pareto front) and of the retrained winner; or one JSON object."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from nasforge.cli.common import echo_err, print_payload, stdout_console
from nasforge.report.search_text import search_lines
from nasforge.run.search_finish import Finish
from nasforge.run.storage import Store


def run_and_report(
    experiment: Any, journal: Store, finish: Finish, *, top: int, as_json: bool
) -> None:
    """Run ``experiment`` with a progress bar on stderr, print its leaderboard, finish it
    (`nasforge.run.search_finish`) and print its summary (or one JSON object)."""
    from nasforge.report.console import leaderboard_table, pareto_table
    from nasforge.report.search_progress import search_progress
    from nasforge.run.search_finish import (
        failure_line,
        finish_search,
        groups_line,
        search_summary,
        validation_groups,
    )

    retrains = finish.retrains(experiment)
    if validation_groups(experiment.evaluator):
        echo_err(groups_line(experiment.evaluator.task))
    with search_progress(experiment, Console(stderr=True), quiet=as_json) as on_trial:
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
    print_payload(payload, as_json, search_lines)
    failed = failure_line(result)
    if failed:
        echo_err(failed)
        raise typer.Exit(1)
