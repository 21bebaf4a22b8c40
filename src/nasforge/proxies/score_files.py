"""Proxy scores in files: the CSV of a run, and what a cached score depends on."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from nasforge.proxies.base import ProxyBatch
    from nasforge.space.base import SearchSpace


def cache_context(
    space: SearchSpace, task: dict[str, Any] | None, batch: ProxyBatch, seed: int
) -> str:
    """What a cached score depends on besides the arch and the proxy."""
    params = ",".join(f"{k}={v}" for k, v in sorted(space.config().items()))
    if task is None:
        shape = "x".join(str(n) for n in batch.input_shape)
        data = f"no-data-{shape}-{batch.num_classes}classes"
    else:
        data = task["name"] + (f"@{task['data']}" if task["data"] else "")
        data += "".join(f",{k}={v}" for k, v in sorted(task["options"].items()))
    from nasforge.space import space_key

    return f"{space_key(space)}({params})|{data}|batch{batch.size}s{seed}|seed{seed}"


def write_scores_csv(path: Path, texts: list[str], columns: dict[str, np.ndarray]) -> None:
    """One row an arch: its text, then its value in every column."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["arch", *columns])
            for i, text in enumerate(texts):
                writer.writerow([text, *(_cell(float(values[i])) for values in columns.values())])
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def _cell(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)
