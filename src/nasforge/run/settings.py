"""What a search does besides running its trials (retrain the winner, where to save it, how
many workers), stored with the experiment so that `resume` does the same.

`search` stores them under the config's ``"settings"``; `resume` starts from those, takes
what the user gives again instead, and stores the result for the next resume. A store made
before the settings were stored resumes with `SEARCH_DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEARCH_DEFAULTS: dict[str, Any] = {
    "final_epochs": 30,
    "out": None,
    "workers": None,
    "executor": "local",
    "ray_address": None,
    "threads": None,
    "gpus_per_trial": 0.0,
    "onnx": False,
    "top": 10,
    "ensemble": 1,
    "ensemble_selection": "top",
    "final_data": None,
}
"""Every stored setting with the value `nasforge search` gives it by default (``out`` None:
``models/NAME``; ``workers`` None: chosen by the evaluator; ``final_data`` None: by the
ensemble selection, `nasforge.run.search_finish.resolve_final_data`)."""


def resumed_settings(
    stored: Mapping[str, Any] | None, given: Mapping[str, Any | None]
) -> dict[str, Any]:
    """The settings a resume runs with: those given now (None: not given), else the stored
    ones, else `SEARCH_DEFAULTS`."""
    unknown = set(given) - set(SEARCH_DEFAULTS)
    if unknown:
        raise KeyError(f"not a search setting: {', '.join(sorted(unknown))}")
    kept = {k: v for k, v in (stored or {}).items() if k in SEARCH_DEFAULTS}
    now = {k: v for k, v in given.items() if v is not None}
    return {**SEARCH_DEFAULTS, **kept, **now}


def search_settings(finish: Any, executor: Any, *, top: int) -> dict[str, Any]:
    """The settings a search stores for `resumed_settings`: what to do with its winner
    (a `nasforge.run.search_finish.Finish`), where its trials run (a
    `nasforge.run.new_experiment.ExecutorSettings`) and its leaderboard's rows."""
    return {
        "final_epochs": finish.final_epochs,
        "out": None if finish.out is None else str(finish.out),
        "workers": executor.workers,
        "executor": executor.executor,
        "ray_address": executor.ray_address,
        "threads": executor.threads,
        "gpus_per_trial": executor.gpus_per_trial,
        "onnx": finish.onnx,
        "top": top,
        "ensemble": finish.ensemble,
        "ensemble_selection": finish.ensemble_selection,
        "final_data": finish.final_data,
    }
