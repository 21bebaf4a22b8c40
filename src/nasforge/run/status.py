"""`experiment_status`: one experiment of a store in a line: what it searches, how far it
got, its best score and the retrained winner's test accuracy (what `nasforge status` lists)."""

from __future__ import annotations

from typing import Any

from nasforge.run.results import SearchResult
from nasforge.run.spec import objectives_of, task_of
from nasforge.run.storage import ExperimentRecord, Store

STATES = ("running", "finished", "interrupted", "stopped")


def experiment_status(store: Store, record: ExperimentRecord) -> dict[str, Any]:
    """The experiment's name, task, space, strategy, seed, evaluated trials against the
    budget, best score, final test accuracy (None until the winner is retrained) and state:
    running (a process is at it now), finished, interrupted (killed mid-trial) or stopped."""
    config = record.config
    trials = store.trials(record.id)
    result = SearchResult.from_trials(
        record.name, trials, record.wall_seconds, objectives_of(config)
    )
    planned = config.get("budget", {}).get("queries")
    running = any(not t.finished for t in trials)
    if config.get("kind") == "oneshot":  # one supernet trained, its arch stored when done
        done = bool(trials) and not running
    else:
        done = planned is not None and result.usage.queries >= planned
    best = result.best
    final = config.get("final") or {}
    return {
        "name": record.name,
        "task": task_of(config),
        "space": config["space"]["name"],
        "strategy": config["strategy"]["name"],
        "seed": config["strategy"].get("seed", config.get("seed")),
        "evaluated": result.usage.queries,
        "budget": planned,
        "best_score": None if best is None else best.score,
        "final_test_accuracy": final.get("test_accuracy"),
        "state": _state(done=done, live=bool(store.live_runs(record.id)), running=running),
    }


def _state(*, done: bool, live: bool, running: bool) -> str:
    if live:
        return "running"
    if done:
        return "finished"
    return "interrupted" if running else "stopped"
