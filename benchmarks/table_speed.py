"""Load a 10,000-row table with 40 decision columns (HW-GPT-Bench L's shape) and run 1,000
queries of evolution on it; prints the seconds of each step (issue 34's target: under 60 s
on 2 cores). Not part of the package.

The table is written to a temporary folder: random rows of a width (3 choices), a depth
(3 choices) and one decision per layer (3 choices), blank beyond the row's depth, as
HW-GPT-Bench's heads and MLP ratios are; a score to maximize depends on all of them.

    python benchmarks/table_speed.py [--rows 10000] [--decisions 40] [--queries 1000]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from nasforge.evaluate.table_lookup import TableEvaluator
from nasforge.objective import Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.space.table.space import TableSpace
from nasforge.strategy import make_strategy


def write_table(path: Path, rows: int, decisions: int, seed: int = 0) -> list[str]:
    """Random rows: a depth decision, then `decisions - 2` per-layer decisions blank beyond
    the depth, and a width; a score that depends on all of them."""
    rng = np.random.default_rng(seed)
    layers = decisions - 2
    names = ["width", "depth", *(f"layer_{i}" for i in range(layers))]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "score", "latency"])
        for _ in range(rows):
            width = int(rng.choice([192, 384, 768]))
            depth = int(rng.integers(layers - 2, layers + 1))
            cells = [int(rng.choice([2, 3, 4])) for _ in range(depth)]
            score = width / 100 + sum(cells) / 10 + rng.normal(0, 0.1)
            writer.writerow([width, depth, *cells, *[""] * (layers - depth), score, width * depth])
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=40)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        names = write_table(path, args.rows, args.decisions)
        started = time.perf_counter()
        space = TableSpace(path, names, ["score"])
        loaded = time.perf_counter() - started
        evaluator = TableEvaluator(space)
        started = time.perf_counter()
        result = Experiment(
            space,
            make_strategy("evolution", space, seed=0),
            evaluator,
            budget=Budget(queries=args.queries),
            objective=Objective("score"),
        ).run()
        searched = time.perf_counter() - started
    print(
        f"{args.rows} rows x {len(names)} decisions ({space.size()} distinct archs): "
        f"load {loaded:.2f} s; {result.usage.queries} evolution queries "
        f"({len(result.trials)} proposals) {searched:.2f} s; total {loaded + searched:.2f} s"
    )


if __name__ == "__main__":
    main()
