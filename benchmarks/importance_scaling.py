"""How the cost of `decision_importance` and `explain` grows with the number of trials.

For every size, that many NAS-Bench-201 cells drawn uniformly (seed 0) with their 200-epoch
CIFAR-10 validation accuracy are the trials; `decision_importance` (100 trees) and
`explain` of the best trial are timed (best of ``--repeats``), and the peak of Python's
allocations during the importance call is read with `tracemalloc` (numpy's arrays
included). Beside them, whether the most important edge is the truth's (node3_in0).

Usage::

    python benchmarks/importance_scaling.py --sizes 100 300 1000 3000 10000

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from nasforge.analysis import decision_importance, explain
from nasforge.evaluate import NB201Table
from nasforge.space import NB201Space

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201.csv"
SIGNAL = "cifar10_valid_acc"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    args = parser.parse_args()
    table = NB201Table.from_csv(args.benchmark)
    space = NB201Space()
    values = table.columns[SIGNAL]
    rng = np.random.default_rng(0)
    print("| trials | importance (s) | explain (s) | peak allocations (MB) | top edge |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        rows = rng.choice(len(table), size=size, replace=size > len(table))
        archs = [space.parse(table.arch_strings[i]) for i in rows]
        measured = values[rows]
        importance_seconds, explain_seconds = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = decision_importance(space, archs, measured, metric="valid_acc")
            importance_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            explain(space, archs, measured, archs[int(np.argmax(measured))], metric="valid_acc")
            explain_seconds.append(time.perf_counter() - started)
        tracemalloc.start()
        decision_importance(space, archs, measured, metric="valid_acc")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        top = max(result.decisions, key=lambda d: d.importance).label
        print(
            f"| {size:,} | {min(importance_seconds):.1f} | {min(explain_seconds):.1f} "
            f"| {peak:.0f} | {top} |",
            flush=True,
        )
    print("\nCommand: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`")


if __name__ == "__main__":
    main()
