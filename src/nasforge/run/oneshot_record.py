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
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate.result import Result
from nasforge.oneshot.diagnostics import Diagnostics
from nasforge.run.storage import ExperimentRecord, Store

OBJECTIVE = "supernet_valid_acc"
"""The trial's score: the supernet's validation accuracy (%) at the end of the search."""


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
