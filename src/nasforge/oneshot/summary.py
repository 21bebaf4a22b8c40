"""A finished one-shot run as a JSON-ready summary, its NAS-Bench-201 lookup, and the
command that retrains the found architecture from scratch."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nasforge.data.task_options import TaskOptions, shell_words

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.oneshot.result import OneShotResult
    from nasforge.space.base import SearchSpace

BENCHMARK_COLUMNS = {
    "test_accuracy": "cifar10_test_acc",
    "valid_accuracy": "cifar10_valid_acc",
    "params_m": "params_m_cifar10",
}
"""What the NAS-Bench-201 lookup gives, by the table's column it reads."""


def run_summary(
    result: OneShotResult,
    space: SearchSpace,
    method: str,
    space_name: str,
    params: dict[str, Any],
    task: str,
    seconds: float,
) -> dict[str, Any]:
    """The found arch, the supernet's accuracy, memory and the per-epoch diagnostics."""
    d = result.diagnostics
    memory = result.memory
    return {
        "arch": space.format(result.arch),
        "arch_text": str(result.arch),
        "method": method,
        "not_searched": list(result.not_searched),
        "space": {"name": space_name, "params": params},
        "task": task,
        "epochs": result.report.epochs_run,
        "stopped": result.report.reason,
        "seconds": round(seconds, 3),
        "supernet_valid_accuracy": 100.0 * result.report.last_valid_accuracy,
        "device": result.report.device,
        "precision": result.report.precision,
        "latency_ms_predicted": result.latency_ms,
        "memory": {
            "batch_size": memory.batch_size,
            "total_bytes": memory.total_bytes,
            "tensor_bytes": memory.tensor_bytes,
            "text": str(memory),
        },
        "diagnostics": {
            "unit": d.unit,
            "final_skip_share": _number(d.skip_share[-1]) if d.points else None,
            "final_entropy": _number(d.mean_entropy[-1]) if d.points else None,
            "archs": [space.format(arch) for arch in d.archs],
            "skip_share": [_number(v) for v in d.skip_share],
            "entropy": [_number(v) for v in d.mean_entropy],
            "arch_loss": [_number(v) for v in d.arch_loss],
            "score": [_number(v) for v in d.score],
        },
    }


def _number(value: Any) -> float | None:
    """A float for JSON (NaN is not JSON: None)."""
    number = float(value)
    return number if math.isfinite(number) else None


def benchmark_lookup(table: NB201Table, space: SearchSpace, arch: Arch) -> dict[str, Any]:
    """``arch`` (of the nb201 space) looked up in NAS-Bench-201: CIFAR-10 at 200 epochs."""
    from nasforge.space.nb201.space import NB201Space

    assert isinstance(space, NB201Space)  # checked with --benchmark
    text = space.to_nb201_string(arch)
    row = table.metrics(table.row_of(text))
    found = {name: row.get(column) for name, column in BENCHMARK_COLUMNS.items()}
    return {"table": str(table.path), "dataset": "cifar10", "epochs": 200, **found}


def retrain_command(arch: str, task: TaskOptions, space: str, params: dict[str, Any]) -> str:
    """The ``nasforge train`` command line that retrains ``arch`` from scratch on ``task``."""
    words = ["nasforge", "train", arch, *task.command_words()]
    if space != "nb201":
        words += ["--space", space]
    for key, value in params.items():
        words += ["-s", f"{key}={value}"]
    words += ["--out", "models/retrained"]
    return shell_words(words)
