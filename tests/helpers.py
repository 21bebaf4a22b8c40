"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

from torch import nn

from nasforge.arch import Arch
from nasforge.run.storage import TrialRecord
from nasforge.space.nb201.space import LABELS
from nasforge.strategy.base import Observation, Strategy


def journal(trials: list[TrialRecord]) -> list[tuple[object, ...]]:
    """What must match between two runs of one experiment: every trial and its outcome."""
    return [
        (t.number, t.arch, t.budget, t.status, t.score, t.duplicate_of, t.metrics) for t in trials
    ]


def conv3x3_count(arch: Arch) -> float:
    """Synthetic objective: the number of 3x3 convs, plus a small deterministic jitter."""
    jitter = zlib.crc32(str(arch).encode()) % 100_000 / 1_000_000
    return sum(arch[label] == "nor_conv_3x3" for label in LABELS) + jitter


def drive(
    strategy: Strategy,
    steps: int,
    objective: Callable[[Arch], float | None] = conv3x3_count,
) -> list[Arch]:
    """Ask and tell `steps` times, in order; return the proposed archs."""
    proposed = []
    for _ in range(steps):
        proposal = strategy.ask()
        proposed.append(proposal.arch)
        strategy.tell(Observation(proposal, objective(proposal.arch)))
    return proposed


def load_small_cnn() -> type[nn.Module]:
    """The `SmallCNN` class of `examples/small_cnn.py` (the example space; loaded once per
    process under the module name ``small_cnn_example``)."""
    if "small_cnn_example" in sys.modules:
        cached: type[nn.Module] = sys.modules["small_cnn_example"].SmallCNN
        return cached
    path = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"
    spec = importlib.util.spec_from_file_location("small_cnn_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cls: type[nn.Module] = module.SmallCNN
    return cls


def finished_trials(store_path: Path) -> int:
    """Finished, non-duplicate trials in a store that another process may be writing (0
    while the file or its tables do not exist yet)."""
    if not store_path.exists():
        return 0
    try:
        with sqlite3.connect(store_path) as connection:
            query = "SELECT COUNT(*) FROM trials WHERE status != 'running' AND duplicate_of IS NULL"
            return int(connection.execute(query).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
