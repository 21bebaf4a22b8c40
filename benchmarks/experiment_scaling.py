"""The experiment loop at scale: NB201 searches with the store on disk, beside Optuna's RDB.

For every strategy (evolution and random search, seed 7), duplicate mode and query budget,
one search queries the NAS-Bench-201 table with a SQLite store in a temporary folder; the
seconds of `Experiment.run()` (the loop, its store writes, and reading the trials back) are
the best of `--repeats`. A proposal is a trial, duplicates included; a query is an evaluated
trial. With `--cli`, the issue's command (`nasforge search ... --strategy evolution --seed 7
--store s.db`) is also timed end to end, process start and table loading included. Beside
them, Optuna's RDB storage (a SQLite file) runs random-sampler trials of a trivial objective.

NB201 has 15,625 archs but only 6,466 distinct functions: with the default duplicate mode
("canonical") a search stops early once it proposes 1,000 known archs in a row, so the
table gives the queries it reached. "exact" reuses only equal arch strings, "none" queries
the table for every proposal (every trial a full row, as in Optuna).

Usage::

    python benchmarks/experiment_scaling.py --queries 1000 3000 10000 --cli
    python benchmarks/experiment_scaling.py --quick

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201.csv"
STRATEGIES = ("evolution", "random")
DEDUP_MODES = ("canonical", "exact", "none")
SEED = 7
TARGET_RATIO = 1.5
"""Cost per proposal at 3,000 queries over that at 1,000: at most this."""
TARGET_SECONDS = 60.0
"""A 3,000-query search with the store on disk: at most this."""


@dataclass(frozen=True)
class Run:
    what: str
    budget: int
    queries: int
    proposals: int
    seconds: float
    store_bytes: int


def store_size(path: Path) -> int:
    """Bytes of the SQLite file and any write-ahead log beside it."""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return sum(file.stat().st_size for file in files if file.exists())


def search(table: NB201Table, strategy: str, dedup: str, budget: int) -> Run:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.db"
        with Store(path) as store:
            space = NB201Space()
            experiment = Experiment(
                space,
                make_strategy(strategy, space, seed=SEED),
                NB201Benchmark(table),
                budget=Budget(queries=budget),
                store=store,
                name="r",
                deduplicate=dedup,
            )
            started = time.perf_counter()
            result = experiment.run()
            seconds = time.perf_counter() - started
        what = f"{strategy}, {dedup}"
        size = store_size(path)
    return Run(what, budget, result.usage.queries, len(result.trials), seconds, size)


def cli_search(benchmark: Path, budget: int) -> Run:
    """The issue's command, timed from process start to exit."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.db"
        command = [sys.executable, "-m", "nasforge.cli", "search", "--space", "nb201"]
        command += ["--benchmark", str(benchmark), "--strategy", "evolution"]
        command += ["--seed", str(SEED), "--store", str(path), "--name", "r"]
        command += ["--budget", str(budget), "--json"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        with Store(path) as store:
            trials = store.trials(store.experiment("r").id)
        queries = sum(trial.evaluated for trial in trials)
        return Run(
            "evolution, canonical (CLI)", budget, queries, len(trials), seconds, store_size(path)
        )


def optuna_trials(trials: int) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "optuna.db"
        study = optuna.create_study(
            storage=f"sqlite:///{path}",
            sampler=optuna.samplers.RandomSampler(seed=SEED),
            study_name="r",
        )
        started = time.perf_counter()
        study.optimize(lambda trial: trial.suggest_float("x", -10, 10) ** 2, n_trials=trials)
        seconds = time.perf_counter() - started
        what = f"Optuna {optuna.__version__} RDB, random"
        return Run(what, trials, trials, trials, seconds, store_size(path))


def row(run: Run) -> str:
    per_proposal = run.seconds / max(run.proposals, 1) * 1000
    per_query = run.seconds / max(run.queries, 1) * 1000
    return (
        f"| {run.what} | {run.budget:,} | {run.queries:,} | {run.proposals:,} | "
        f"{run.seconds:.2f} | {per_proposal:.3f} | {per_query:.3f} | "
        f"{run.store_bytes / 1e6:.1f} |"
    )


def ratios(runs: Sequence[Run], small: int, large: int) -> list[str]:
    """Cost per proposal (and per query) at `large` queries over that at `small`."""
    lines = [
        f"| run | per proposal, {large:,} / {small:,} | per query, {large:,} / {small:,} |",
        "|---|---|---|",
    ]
    by_key = {(run.what, run.budget): run for run in runs}
    for what in dict.fromkeys(run.what for run in runs):
        a, b = by_key.get((what, small)), by_key.get((what, large))
        if a is None or b is None or what.startswith("Optuna") or "(CLI)" in what:
            continue
        per_proposal = (b.seconds / b.proposals) / (a.seconds / a.proposals)
        per_query = (b.seconds / b.queries) / (a.seconds / a.queries)
        mark = "yes" if per_proposal <= TARGET_RATIO else "NO"
        lines.append(
            f"| {what} | {per_proposal:.2f} (<= {TARGET_RATIO}: {mark}) | {per_query:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--queries", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--dedup", nargs="+", choices=DEDUP_MODES, default=list(DEDUP_MODES))
    parser.add_argument("--optuna-trials", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3, help="nasforge runs: best of this many")
    parser.add_argument("--cli", action="store_true", help="also time the CLI command end to end")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sizes, once")
    args = parser.parse_args()
    if args.quick:
        args.queries, args.optuna_trials, args.repeats = [100, 300], [50], 1
    benchmark = Path(os.environ.get("NASFORGE_NB201", args.benchmark))
    table = NB201Table.from_csv(benchmark)

    print(
        "| run | budget | queries | proposals | seconds | ms per proposal | ms per query "
        "| store MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    runs: list[Run] = []
    for strategy in STRATEGIES:
        for dedup in args.dedup:
            for budget in args.queries:
                tries = [search(table, strategy, dedup, budget) for _ in range(args.repeats)]
                runs.append(min(tries, key=lambda run: run.seconds))
                print(row(runs[-1]), flush=True)
    if args.cli:
        for budget in args.queries:
            runs.append(cli_search(benchmark, budget))
            print(row(runs[-1]), flush=True)
    for trials in args.optuna_trials:
        runs.append(optuna_trials(trials))
        print(row(runs[-1]), flush=True)

    small, large = min(args.queries), sorted(args.queries)[len(args.queries) // 2]
    if 1000 in args.queries and 3000 in args.queries:
        small, large = 1000, 3000
    if small != large:
        print()
        print("\n".join(ratios(runs, small, large)))
    target = [r for r in runs if r.budget == 3000 and r.what.startswith("evolution, canonical")]
    for run in target:
        verdict = "yes" if run.seconds <= TARGET_SECONDS and run.queries == 3000 else "NO"
        print(
            f"\n{run.what} at 3,000 queries in {run.seconds:.1f} s "
            f"(<= {TARGET_SECONDS:.0f} s: {verdict})"
        )


if __name__ == "__main__":
    main()
