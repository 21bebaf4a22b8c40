"""Transfer between tasks on NAS-Bench-201: cold searches against searches warm-started from
a finished CIFAR-10 search (`nasforge search --warm-start-from STORE:NAME`).

For every seed: a 100-query search on CIFAR-10 (200-epoch validation accuracy), stored in a
SQLite file; then, for each target dataset (CIFAR-100, ImageNet16-120: the one-seed
200-epoch validation accuracy as signal, the test accuracy reported), the same strategy
cold and warm-started from that experiment, through the library's own transfer
(`nasforge.run.transfer`), up to `--cap` queries. Reported per target and strategy: the
queries needed until the best arch so far by the signal is in the top 0.1% of the target by
test accuracy (median and quartiles over seeds; a run that never gets there counts as
`cap + 1`), the share of seeds that got there, and the test accuracy of the best arch so far
at 25 and 50 queries (mean ± standard error). Warm queries include the seeds it evaluates
first; the source search's 100 queries are not counted (they were spent on another task).

Usage::

    python benchmarks/nb201_transfer.py --seeds 50 --strategies evolution bayesian

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.run.transfer import load_transfer_source, transfer_strategy
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from nasforge.strategy.base import Strategy

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201.csv"
SOURCE_QUERIES = 100
TOP_SHARE = 0.001
TARGETS = {"cifar100": "cifar100_test_acc", "imagenet16": "imagenet16_test_acc"}
SOURCE_STRATEGY = "evolution"


@dataclass(frozen=True)
class RunResult:
    queries_to_top: int
    """Queries until the best-so-far (by the signal) is in the top share; cap + 1 if never."""
    test_at: dict[int, float]
    """Test accuracy of the best-so-far arch after 25 and 50 queries."""


def top_threshold(table: NB201Table, column: str) -> float:
    values = np.sort(table.columns[column])[::-1]
    return float(values[int(np.ceil(len(values) * TOP_SHARE)) - 1])


def run_target(
    strategy: Strategy, evaluator: NB201Benchmark, space: NB201Space, cap: int, threshold: float
) -> RunResult:
    trials = Experiment(space, strategy, evaluator, budget=Budget(queries=cap)).run().trials
    best_signal, best_test, reached = -np.inf, -np.inf, cap + 1
    test_at: dict[int, float] = {}
    queries = 0
    for trial in trials:
        if not trial.evaluated or "valid_acc" not in trial.metrics:
            continue
        queries += 1
        if trial.metrics["valid_acc"] > best_signal:
            best_signal, best_test = trial.metrics["valid_acc"], trial.metrics["test_acc"]
        if best_test >= threshold and reached > cap:
            reached = queries
        if queries in (25, 50):
            test_at[queries] = best_test
    return RunResult(reached, test_at)


def source_experiment(store: Store, table: NB201Table, space: NB201Space, seed: int) -> str:
    name = f"cifar10-seed{seed}"
    Experiment(
        space,
        make_strategy(SOURCE_STRATEGY, space, seed=10_000 + seed),
        NB201Benchmark(table, dataset="cifar10", space=space),
        budget=Budget(queries=SOURCE_QUERIES),
        store=store,
        name=name,
    ).run()
    return name


def summary(results: list[RunResult], cap: int) -> list[str]:
    hits = [r.queries_to_top for r in results]
    q1, median, q3 = np.percentile(hits, [25, 50, 75])
    cells = [
        f"{median:.0f} ({q1:.0f}-{q3:.0f})",
        f"{sum(h <= cap for h in hits) / len(hits):.0%}",
    ]
    for at in (25, 50):
        values = [r.test_at[at] for r in results]
        se = statistics.stdev(values) / np.sqrt(len(values)) if len(values) > 1 else 0.0
        cells.append(f"{statistics.fmean(values):.2f} ± {se:.2f}")
    return cells


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--strategies", nargs="+", default=["evolution"])
    parser.add_argument("--cap", type=int, default=1000, help="Most queries per target search.")
    parser.add_argument("--top", type=int, default=10, help="Source archs evaluated first.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the table here.")
    args = parser.parse_args(argv)
    table = NB201Table.from_csv(args.benchmark)
    space = NB201Space()
    thresholds = {dataset: top_threshold(table, column) for dataset, column in TARGETS.items()}
    results: dict[tuple[str, str, str], list[RunResult]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "sources.db"
        with Store(store_path) as store:
            sources = [source_experiment(store, table, space, seed) for seed in range(args.seeds)]
        for seed, name in enumerate(sources):
            for strategy in args.strategies:
                source = load_transfer_source(f"{store_path}:{name}", space, top=args.top)
                for dataset, threshold in thresholds.items():
                    evaluator = NB201Benchmark(table, dataset=dataset, space=space)
                    starts = {
                        "cold": make_strategy(strategy, space, seed=seed),
                        "warm": transfer_strategy(strategy, {}, space, source, seed=seed),
                    }
                    for start, chosen in starts.items():
                        result = run_target(chosen, evaluator, space, args.cap, threshold)
                        results.setdefault((dataset, strategy, start), []).append(result)
                        print(
                            f"seed {seed} {dataset} {strategy} {start}: {result}",
                            file=sys.stderr,
                            flush=True,
                        )
    lines = [
        f"Source: a {SOURCE_QUERIES}-query {SOURCE_STRATEGY} search on CIFAR-10 per seed; "
        f"{args.top} of its best evaluated first; {args.seeds} seeds, at most {args.cap} "
        "queries per target search. Top 0.1% by test accuracy: "
        + ", ".join(f"{d} >= {t:.2f}" for d, t in thresholds.items())
        + ".",
        "",
        "| target | strategy | start | queries to top 0.1%: median (quartiles) | reached "
        "| test acc at 25 queries | test acc at 50 queries |",
        "|---|---|---|---|---|---|---|",
    ]
    for (dataset, strategy, start), runs in results.items():
        lines.append(
            f"| {dataset} | {strategy} | {start} | " + " | ".join(summary(runs, args.cap)) + " |"
        )
    seconds = time.perf_counter() - started
    lines += [
        "",
        f"{seconds:.0f} s in all. Command: `python "
        + " ".join(shlex.quote(a) for a in sys.argv)
        + "`",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
