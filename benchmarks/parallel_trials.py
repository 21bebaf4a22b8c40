"""Parallel trials: the same candidates trained with one worker and with several.

The main job's setting (NB201 C=8, N=1 on scikit-learn's digits, ``--epochs`` epochs each)
trains the same `--budget` candidates -- random search proposes without looking at results,
so every run gets the same archs from the same seed -- once inline (``--workers 1``: one
process, torch's default threads) and once with each count of ``--workers`` (spawned worker
processes, the cores shared out as torch threads). Runs alternate for ``--rounds`` rounds
(machine load drifts; adjacent runs see about the same). Each row gives the wall-clock
seconds of the search (worker start-up included), the seconds per candidate and the speed-up
over the inline run of the same round; the table's last column is the median speed-up.

Usage::

    python benchmarks/parallel_trials.py                   # 12 candidates, workers 1 and 2
    python benchmarks/parallel_trials.py --budget 24 --workers 2 4 --rounds 3

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time

import torch

from nasforge.run.budget import Budget
from nasforge.run.executor import make_executor
from nasforge.run.experiment import Experiment
from nasforge.run.setup import training_evaluator
from nasforge.strategy import make_strategy


def search_seconds(workers: int, budget: int, epochs: int, seed: int) -> tuple[float, set[str]]:
    """Wall seconds of one search, and the archs it trained."""
    space, evaluator = training_evaluator("digits", None, "nb201", {}, {}, epochs=epochs, seed=seed)
    experiment = Experiment(
        space,
        make_strategy("random", space, seed=seed),
        evaluator,
        budget=Budget(queries=budget),
        name="bench",
        executor=make_executor("local", workers=workers),
    )
    started = time.perf_counter()
    result = experiment.run()
    seconds = time.perf_counter() - started
    failed = [t for t in result.trials if t.error]
    if failed:
        raise SystemExit(f"a trial failed: {failed[0].error}")
    return seconds, {t.arch for t in result.trials}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=12, help="candidates per search")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per candidate")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="counts beside 1")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"# {shlex.join(['python', *sys.argv])}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, default threads {torch.get_num_threads()}"
    )
    counts = [1, *[w for w in args.workers if w != 1]]
    rows: dict[int, list[float]] = {w: [] for w in counts}
    speedups: dict[int, list[float]] = {w: [] for w in counts}
    archs: set[str] | None = None
    for round_index in range(args.rounds):
        for workers in counts:
            seconds, trained = search_seconds(workers, args.budget, args.epochs, args.seed)
            if archs is None:
                archs = trained
            elif trained != archs:
                raise SystemExit("the runs trained different candidates; the comparison is off")
            rows[workers].append(seconds)
            speedups[workers].append(rows[1][round_index] / seconds)
            print(f"# round {round_index + 1}, {workers} worker(s): {seconds:.1f} s", flush=True)
    print()
    print("| workers | seconds (median) | s per candidate | speed-up over 1 (median) |")
    print("|---:|---:|---:|---:|")
    for workers in counts:
        median = statistics.median(rows[workers])
        print(
            f"| {workers} | {median:.1f} | {median / args.budget:.2f} | "
            f"{statistics.median(speedups[workers]):.2f}x |"
        )


if __name__ == "__main__":
    main()
