"""`record_oneshot`: a finished one-shot search kept in a store, beside the other searches.

A one-shot run trains one supernet instead of evaluating trials, so it is stored as an
experiment whose config holds the method and its per-epoch diagnostics (architecture
weights, skip-connection share, the argmax arch), and whose single trial is the found
architecture with what was measured of it. `nasforge report` and the dashboard draw it;
`nasforge best` shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError
from nasforge.evaluate.result import Result
from nasforge.oneshot.diagnostics import Diagnostics
from nasforge.oneshot.summary import BENCHMARK_COLUMNS
from nasforge.run.storage import ExperimentRecord, Store

OBJECTIVE = "supernet_valid_acc"
"""The trial's score: the supernet's validation accuracy (%) at the end of the search."""


def check_name_free(path: str | Path, name: str) -> None:
    """Refuse an empty run name or one the store at ``path`` already holds."""
    if not name.strip():
        raise ConfigError("--name is empty")
    with Store(path) as journal:
        if journal.get_experiment(name) is not None:
            raise ConfigError(
                f"experiment {name!r} already exists in {path}; choose another --name"
            )


def record_summary(
    path: str | Path,
    name: str,
    summary: Mapping[str, Any],
    *,
    arch: Arch,
    space_config: Mapping[str, Any],
    method_options: Mapping[str, Any],
    seed: int,
    diagnostics: Diagnostics,
) -> None:
    """Keep a one-shot run in the store at ``path``: its diagnostics, and the found arch as
    its one trial with what ``summary`` (`nasforge.oneshot.summary.run_summary`, with the
    child, fine-tuning and benchmark entries) measured of it."""
    metrics: dict[str, float] = {OBJECTIVE: summary["supernet_valid_accuracy"]}
    if summary.get("child"):
        metrics["child_test_acc"] = summary["child"]["test_accuracy"]
        metrics["params"] = summary["child"]["params"]
    if summary.get("finetune"):
        metrics["finetuned_test_acc"] = summary["finetune"]["test_accuracy"]
    for key, value in (summary.get("benchmark") or {}).items():
        if key in BENCHMARK_COLUMNS and value is not None:
            metrics[f"nb201_{key}"] = float(value)
    with Store(path) as journal:
        record_oneshot(
            journal,
            name,
            arch=arch,
            space_config={**space_config, **summary["space"]},
            method=summary["method"],
            method_options=dict(method_options),
            task=summary["task"],
            seed=seed,
            epochs=summary["epochs"],
            seconds=summary["seconds"],
            diagnostics=diagnostics,
            metrics=metrics,
            device=summary["device"],
            precision=summary["precision"],
        )


def record_oneshot(
    store: Store,
    name: str,
    *,
    arch: Arch,
    space_config: Mapping[str, Any],
    method: str,
    method_options: Mapping[str, Any],
    task: str,
    seed: int,
    epochs: int,
    seconds: float,
    diagnostics: Diagnostics,
    metrics: Mapping[str, float],
    device: str = "cpu",
    precision: str = "fp32",
) -> ExperimentRecord:
    """Store a one-shot search as experiment `name` (refused if the name is taken)."""
    config = {
        "kind": "oneshot",
        "space": dict(space_config),
        "strategy": {"name": f"oneshot:{method}", "params": dict(method_options)},
        "objectives": [{"metric": OBJECTIVE, "direction": "max"}],
        "budget": {"epochs": epochs},
        "task": task,
        "seed": seed,
        "oneshot": {
            "method": method,
            "epochs": epochs,
            "seconds": round(seconds, 3),
            "device": device,
            "precision": precision,
            "diagnostics": diagnostics.to_dict(),
        },
    }
    record = store.create_experiment(name, config)
    finite = {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
    with store.batch():
        store.add_trial(record.id, 0, str(arch), None, 0)
        store.finish_trial(
            record.id,
            0,
            Result(metrics=finite, cost=seconds),
            finite.get(OBJECTIVE),
            1,
        )
        store.add_wall_seconds(record.id, seconds)
    return store.experiment(name)
