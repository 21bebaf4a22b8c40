"""Multi-objective search on NAS-Bench-201: accuracy against a device's latency.

Maximize CIFAR-10 validation accuracy (200 epochs, ``cifar10_valid_acc``) and minimize the
measured latency on a device: by default the edge GPU (``latency_ms_edgegpu_cifar10``, a
column of ``nb201.csv``); ``--devices`` names HW-NAS-Bench's others (``raspi4``,
``edgetpu``, ``pixel3``, ``eyeriss``, ``fpga``: ``latency_ms_{device}_cifar10``, joined
from ``hw_nasbench201.csv.gz`` beside the table). The true Pareto front is computed from
the whole table. Each run's front (its evaluated, non-dominated architectures) is scored by
its hypervolume as a fraction of the true front's, with the reference point at the table's
lowest accuracy and highest latency.

    python benchmarks/nb201_multiobjective.py --seeds 10
    python benchmarks/nb201_multiobjective.py --seeds 5 \\
        --devices edgegpu raspi4 edgetpu pixel3 eyeriss fpga
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.objective import Objective
from nasforge.pareto import hypervolume, pareto_front
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from nasforge.strategy.base import Strategy

ACCURACY = "cifar10_valid_acc"
BUDGETS = (100, 300)
DEDUP = "exact"
"""Isomorphic cells have their own rows in the table (separately trained and timed), and the
true front is computed over every row; so each row counts as its own architecture here."""
STRATEGIES: dict[str, Callable[[NB201Space, int], Strategy]] = {
    "random": lambda space, seed: make_strategy("random", space, seed=seed),
    "nsga2": lambda space, seed: make_strategy("nsga2", space, seed=seed),
    "pareto-local": lambda space, seed: make_strategy("pareto-local", space, seed=seed),
    "optuna NSGA-II": lambda space, seed: make_strategy(
        "optuna", space, seed=seed, sampler="nsga2"
    ),
}


def default_table() -> Path:
    env = os.environ.get("NASFORGE_NB201")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks" / "nb201.csv"


def true_hypervolume(table: NB201Table, latency: str) -> tuple[float, tuple[float, float]]:
    """Hypervolume of the table's own front, and the reference point (in score space)."""
    points = [
        (float(a), -float(lat))
        for a, lat in zip(table.columns[ACCURACY], table.columns[latency], strict=True)
    ]
    reference = (min(p[0] for p in points), min(p[1] for p in points))
    front = [points[i] for i in pareto_front(points)]
    return hypervolume(front, reference), reference


def run_fraction(
    table: NB201Table,
    strategy: Strategy,
    reference: tuple[float, float],
    best: float,
    latency: str,
) -> dict[int, float]:
    """Hypervolume fraction after each budget, from one run to the largest budget."""
    space = NB201Space()
    result = Experiment(
        space,
        strategy,
        NB201Benchmark(table, fidelity=200),
        budget=Budget(queries=max(BUDGETS)),
        objective=[Objective(ACCURACY, "max"), Objective(latency, "min")],
        deduplicate=DEDUP,
    ).run()
    evaluated = [t for t in result.trials if t.evaluated and t.scores is not None]
    fractions = {}
    for budget in BUDGETS:
        points = [t.scores or () for t in evaluated[:budget]]
        front = [points[i] for i in pareto_front(points)]
        fractions[budget] = hypervolume(front, reference) / best
    return fractions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", type=Path, default=default_table())
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--devices", nargs="+", default=["edgegpu"])
    args = parser.parse_args()
    table = NB201Table.from_csv(args.benchmark)
    for device in args.devices:
        latency = f"latency_ms_{device}_cifar10"
        table.require([latency])
        best, reference = true_hypervolume(table, latency)
        print(
            f"{device}: true front hypervolume {best:.4f}; reference accuracy "
            f"{reference[0]:.2f}, latency {-reference[1]:.3f} ms; {args.seeds} seeds "
            f"(0..{args.seeds - 1})\n"
        )
        header = " | ".join(f"{b} queries" for b in BUDGETS)
        print(f"| device | strategy | {header} | s/run |")
        print("|---|---|" + "---|" * (len(BUDGETS) + 1))
        for name, make in STRATEGIES.items():
            runs, seconds = [], []
            for seed in range(args.seeds):
                started = time.perf_counter()
                strategy = make(NB201Space(), seed)
                runs.append(run_fraction(table, strategy, reference, best, latency))
                seconds.append(time.perf_counter() - started)
            cells = []
            for budget in BUDGETS:
                values = [run[budget] for run in runs]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                cells.append(f"{statistics.mean(values):.4f} ± {spread:.4f}")
            row = f"| {device} | {name} | {' | '.join(cells)} | {statistics.mean(seconds):.2f} |"
            print(row, flush=True)
        print()


if __name__ == "__main__":
    main()
