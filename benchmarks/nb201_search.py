"""Reproduce the NAS-Bench-201 strategy protocol with nasforge and print a Markdown table.

For every strategy, search signal (CIFAR-10 validation accuracy after 12 or 200 epochs) and
seed, one search of 200 evaluated queries is run. The incumbent after the first 50, 100 and
200 *evaluated* trials (the evaluated trial with the highest signal, the earliest on ties) is
looked up in the table, and its 200-epoch CIFAR-10 test accuracy is reported: mean ± sample
std over seeds, and the share of runs that found an architecture with the table's best test
accuracy. Reading the shorter budgets off the 200-query run is valid because no strategy
looks at the total budget.

Usage::

    python benchmarks/nb201_search.py --seeds 100 --workers 2 --out table.md --cache .nb201-runs

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import shlex
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.results import epochs_charged
from nasforge.run.storage import TrialRecord
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = REPO_ROOT.parent / "shared" / "benchmarks" / "nb201.csv"
ENV_VAR = "NASFORGE_NB201"

BUDGETS: tuple[int, ...] = (50, 100, 200)
"""Query budgets reported; each run is made with the largest and read at every one."""
SIGNALS: tuple[int, ...] = (12, 200)
"""Search signals: CIFAR-10 validation accuracy after this many training epochs."""
SIGNAL_METRIC = "valid_acc"
TEST_COLUMN = "cifar10_test_acc"
"""What is reported: 200-epoch CIFAR-10 test accuracy (never seen by the search)."""

PUBLISHED_REFERENCE = (
    "Published (NB201 paper, Dong & Yang ICLR 2020, Table 5; RECALLED, not checked against the "
    "PDF, see shared/benchmarks/PUBLISHED_RESULTS.md §1): CIFAR-10 test acc REA 93.92±0.30, "
    "RS 93.70±0.36, REINFORCE 93.85±0.37, BOHB 93.61±0.52; 12-epoch validation signal, "
    "budget 12,000 simulated seconds (a time budget, not a query count)."
)


@dataclass(frozen=True)
class StrategySpec:
    """A row label and the nasforge strategy (name and options) behind it."""

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    signal_label: str | None = None
    """For multi-fidelity strategies, whose signal spans several fidelities."""


STRATEGIES: tuple[StrategySpec, ...] = (
    StrategySpec("random", "random"),
    StrategySpec("evolution", "evolution"),  # defaults: population 10, tournament 3 (NB201)
    StrategySpec("evolution+crossover", "evolution", {"crossover_prob": 0.5}),
    StrategySpec("local", "local"),
    StrategySpec("tpe", "tpe"),
    StrategySpec("reinforce", "reinforce"),
    StrategySpec("bayesian", "bayesian"),
    StrategySpec(
        "hyperband(local)",
        "hyperband",
        {"sampler": "local", "budgets": [12, 200]},
        "C10 valid 12 → 200 ep",
    ),
    StrategySpec("bohb", "bohb", {"budgets": [12, 200]}, "C10 valid 12 → 200 ep"),
)
STRATEGY_BY_LABEL = {spec.label: spec for spec in STRATEGIES}


@dataclass(frozen=True)
class Job:
    """One search: a strategy, a signal (epochs) and a seed."""

    strategy: str
    signal: int
    seed: int
    unit: str = "queries"
    """What the budgets count: evaluated queries, or training epochs (query-equivalents at the
    signal's fidelity: a budget of 100 at the 12-epoch signal is 1,200 epochs)."""

    def cache_name(self) -> str:
        suffix = "" if self.unit == "queries" else f"_{self.unit}"
        return f"{self.strategy}_{self.signal}ep_seed{self.seed:03d}{suffix}.json"


@dataclass(frozen=True)
class Incumbent:
    """The architecture a search would return after `budget` evaluated trials."""

    budget: int
    trial: int
    arch: str
    signal: float
    test_acc: float


@dataclass(frozen=True)
class RunResult:
    """What one search produced: its incumbents, its size and its wall time."""

    strategy: str
    signal: int
    seed: int
    incumbents: list[Incumbent]
    evaluated: int
    proposals: int
    wall_seconds: float
    unit: str = "queries"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        fields = dict(data)
        fields["incumbents"] = [Incumbent(**item) for item in data["incumbents"]]
        return cls(**fields)


# -- one search -------------------------------------------------------------------------
_TABLE: NB201Table | None = None


def _load_table(path: str) -> None:
    """Load the benchmark once per process (the pool's initializer)."""
    global _TABLE
    _TABLE = NB201Table.from_csv(path)


def run_job(job: Job) -> RunResult:
    """Run one search of max(BUDGETS) evaluated queries and read off its incumbents."""
    assert _TABLE is not None, "call _load_table first"
    spec = STRATEGY_BY_LABEL[job.strategy]
    space = NB201Space()
    started = time.perf_counter()
    strategy = make_strategy(spec.name, space, seed=job.seed, **spec.params)
    evaluator = NB201Benchmark(_TABLE, fidelity=job.signal, space=space)
    limit = (
        Budget(queries=max(BUDGETS))
        if job.unit == "queries"
        else Budget(epochs=max(BUDGETS) * job.signal)
    )
    result = Experiment(space, strategy, evaluator, budget=limit).run()
    wall = time.perf_counter() - started
    evaluated = [t for t in result.trials if t.evaluated]
    return RunResult(
        strategy=job.strategy,
        signal=job.signal,
        seed=job.seed,
        incumbents=[incumbent(evaluated, budget, job) for budget in BUDGETS],
        evaluated=len(evaluated),
        proposals=len(result.trials),
        wall_seconds=wall,
        unit=job.unit,
    )


def within_budget(evaluated: Sequence[TrialRecord], budget: int, job: Job) -> list[TrialRecord]:
    """The evaluated trials, in order, that fit in `budget` queries (or query-equivalents)."""
    ordered = sorted(evaluated, key=lambda t: t.number)
    if job.unit == "queries":
        return ordered[:budget]
    kept, spent = [], 0.0
    for trial in ordered:
        spent += epochs_charged(trial)
        if spent > budget * job.signal:
            break
        kept.append(trial)
    return kept


def incumbent(evaluated: Sequence[TrialRecord], budget: int, job: Job) -> Incumbent:
    """The best evaluated trial within `budget` by the signal, the earliest on ties."""
    first = within_budget(evaluated, budget, job)
    scored = [t for t in first if math.isfinite(t.metrics.get(SIGNAL_METRIC, math.nan))]
    top = max((t.budget for t in scored if t.budget is not None), default=None)
    scored = [t for t in scored if t.budget == top]  # multi-fidelity: the top rung decides
    if not scored:
        raise RuntimeError(f"no trial with a finite {SIGNAL_METRIC} among the first {budget}")
    best = min(scored, key=lambda t: (-t.metrics[SIGNAL_METRIC], t.number))
    return Incumbent(
        budget=budget,
        trial=best.number,
        arch=best.arch,
        signal=best.metrics[SIGNAL_METRIC],
        test_acc=best.metrics[TEST_COLUMN],
    )


# -- many searches, with an optional cache ----------------------------------------------
def all_jobs(
    seeds: int, labels: Sequence[str], signals: Sequence[int], unit: str = "queries"
) -> list[Job]:
    """Every (strategy, signal, seed), seeds outermost so slow strategies spread over workers."""
    return [
        Job(label, signal, seed, unit)
        for seed in range(seeds)
        for signal in signals
        for label in labels
    ]


def protocol_of(job: Job, benchmark_digest: str) -> dict[str, Any]:
    """Everything a cached run must match to be reused."""
    spec = STRATEGY_BY_LABEL[job.strategy]
    return {
        "strategy": spec.name,
        "params": spec.params,
        "signal": job.signal,
        "seed": job.seed,
        "unit": job.unit,
        "budgets": list(BUDGETS),
        "benchmark_sha256": benchmark_digest,
        "nasforge": version("nasforge"),
    }


class RunCache:
    """One JSON file per run in a directory; a file whose protocol differs is ignored."""

    def __init__(self, directory: Path | None, benchmark_digest: str) -> None:
        self.directory = directory
        self.digest = benchmark_digest
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def load(self, job: Job) -> RunResult | None:
        if self.directory is None:
            return None
        path = self.directory / job.cache_name()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("protocol") != protocol_of(job, self.digest):
            return None
        return RunResult.from_json(data["result"])

    def save(self, job: Job, result: RunResult) -> None:
        if self.directory is None:
            return
        data = {"protocol": protocol_of(job, self.digest), "result": result.to_json()}
        path = self.directory / job.cache_name()
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def run_jobs(jobs: Sequence[Job], benchmark: Path, workers: int) -> Iterator[RunResult]:
    """Run `jobs` in this process or in a spawn pool; results come in completion order."""
    if not jobs:
        return
    if workers <= 1:
        _load_table(str(benchmark))
        yield from map(run_job, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_load_table, initargs=(str(benchmark),)) as pool:
        yield from pool.imap_unordered(run_job, jobs, chunksize=4)


def collect(jobs: Sequence[Job], cache: RunCache, benchmark: Path, workers: int) -> list[RunResult]:
    """Cached results where valid, fresh runs for the rest (saved to the cache as they come)."""
    results: list[RunResult] = []
    missing: list[Job] = []
    for job in jobs:
        cached = cache.load(job)
        if cached is None:
            missing.append(job)
        else:
            results.append(cached)
    if cache.directory is not None:
        print(f"cache: {len(results)} runs reused, {len(missing)} to run", file=sys.stderr)
    for done, result in enumerate(run_jobs(missing, benchmark, workers), start=1):
        cache.save(Job(result.strategy, result.signal, result.seed, result.unit), result)
        results.append(result)
        if done % 100 == 0 or done == len(missing):
            print(f"  {done}/{len(missing)} runs done", file=sys.stderr)
    return results


# -- the table --------------------------------------------------------------------------
@dataclass(frozen=True)
class Optimum:
    """The table's best CIFAR-10 test accuracy and the rows that reach it."""

    value: float
    rows: list[int]

    @classmethod
    def of(cls, table: NB201Table) -> Optimum:
        column = table.columns[TEST_COLUMN]
        value = float(max(column))
        return cls(value, [row for row, v in enumerate(column) if v == value])


def mean_std(values: Sequence[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}" if values else "–"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def percent(hits: int, total: int) -> str:
    return f"{100.0 * hits / total:.0f}%" if total else "–"


def table_row(spec: StrategySpec, signal: int, runs: Sequence[RunResult], best: float) -> str:
    cells = [spec.label, spec.signal_label or f"C10 valid {signal} ep"]
    for position in range(len(BUDGETS)):
        accs = [run.incumbents[position].test_acc for run in runs]
        cells.append(mean_std(accs))
        cells.append(percent(sum(acc >= best for acc in accs), len(accs)))
    cells.append(f"{statistics.fmean(run.proposals for run in runs):.0f}")
    cells.append(f"{statistics.fmean(run.wall_seconds for run in runs):.3f}")
    return "| " + " | ".join(cells) + " |"


def markdown_table(results: Iterable[RunResult], optimum: Optimum) -> list[str]:
    grouped: dict[tuple[str, int], list[RunResult]] = {}
    for run in sorted(results, key=lambda r: r.seed):
        grouped.setdefault((run.strategy, run.signal), []).append(run)
    header = ["strategy", "signal"]
    for budget in BUDGETS:
        header += [f"{budget}: test acc", f"{budget}: optimum"]
    header += ["proposals/run", "s/run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for spec in STRATEGIES:
        for signal in SIGNALS:
            runs = grouped.get((spec.label, signal), [])
            if runs:
                lines.append(table_row(spec, signal, runs, optimum.value))
    return lines


def short_runs_note(results: Sequence[RunResult]) -> list[str]:
    short = [r for r in results if r.unit == "queries" and r.evaluated < max(BUDGETS)]
    if not short:
        return []
    examples = ", ".join(f"{r.strategy}/{r.signal}ep/seed {r.seed}" for r in short[:5])
    return [
        f"WARNING: {len(short)} runs stopped before {max(BUDGETS)} evaluated trials "
        f"(their incumbent is the last one): {examples}"
    ]


def report(argv: Sequence[str], seeds: int, results: list[RunResult], optimum: Optimum) -> str:
    command = shlex.join(["python", "benchmarks/nb201_search.py", *argv])
    rows = ", ".join(str(row) for row in optimum.rows)
    budgets = "/".join(str(b) for b in BUDGETS)
    lines = [
        f"Command: `{command}`",
        "",
        f"Seeds 0..{seeds - 1} ({seeds} runs per row). Each run: {max(BUDGETS)} "
        f"evaluated queries; the {budgets} columns read the incumbent (best validation "
        "accuracy at the row's signal, earliest on ties) after the first "
        f"{budgets} evaluated trials. Test acc: 200-epoch CIFAR-10 test accuracy "
        f"(`{TEST_COLUMN}`) of the incumbent, mean ± sample std over seeds. Optimum: share "
        f"of runs whose incumbent has the table's best test accuracy, {optimum.value:.4f} "
        f"(rows {rows}). proposals/run: trials per run including free duplicates. "
        "s/run: mean wall seconds per 200-query run (strategy + table lookups + in-memory "
        "store).",
        *(
            [
                "",
                "Budgets in epochs: each column is a budget of N x (signal epochs) training "
                "epochs (N = 50/100/200, so 600/1,200/2,400 epochs at the 12-epoch signal); a "
                "12-epoch query costs 12, a 200-epoch one 200, and the incumbent is read "
                "among the trials that fit in the budget.",
            ]
            if any(r.unit == "epochs" for r in results)
            else []
        ),
        "",
        *markdown_table(results, optimum),
        "",
        PUBLISHED_REFERENCE,
        *short_runs_note(results),
    ]
    return "\n".join(lines) + "\n"


# -- command line -----------------------------------------------------------------------
def default_benchmark() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_BENCHMARK


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the NAS-Bench-201 strategy protocol and print a Markdown table."
    )
    parser.add_argument(
        "--benchmark",
        type=Path,
        default=None,
        help=f"nb201.csv (default: ${ENV_VAR}, else {DEFAULT_BENCHMARK})",
    )
    parser.add_argument("--seeds", type=int, default=100, help="seeds 0..N-1 (default 100)")
    parser.add_argument(
        "--workers", type=int, default=1, choices=(1, 2), help="processes (default 1)"
    )
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--cache", type=Path, help="directory of per-run JSON results to reuse")
    parser.add_argument(
        "--strategies",
        default=",".join(STRATEGY_BY_LABEL),
        help="comma-separated row labels (default: all)",
    )
    parser.add_argument(
        "--signals", default="12,200", help="comma-separated fidelities of the signal (12, 200)"
    )
    parser.add_argument(
        "--unit",
        choices=("queries", "epochs"),
        default="queries",
        help="budgets count evaluated queries, or training epochs in query-equivalents at the "
        "signal's fidelity (12 epochs per query at the 12-epoch signal)",
    )
    args = parser.parse_args(argv)
    args.strategies = [label.strip() for label in args.strategies.split(",") if label.strip()]
    unknown = [label for label in args.strategies if label not in STRATEGY_BY_LABEL]
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {', '.join(STRATEGY_BY_LABEL)}")
    try:
        args.signals = [int(value) for value in args.signals.split(",")]
    except ValueError:
        parser.error("--signals must be integers such as 12,200")
    if any(signal not in SIGNALS for signal in args.signals):
        parser.error(f"--signals must be among {SIGNALS}")
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    args.benchmark = args.benchmark or default_benchmark()
    if not args.benchmark.is_file():
        parser.error(f"benchmark file not found: {args.benchmark} (use --benchmark or ${ENV_VAR})")
    return args


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    optimum = Optimum.of(NB201Table.from_csv(args.benchmark))
    cache = RunCache(args.cache, file_digest(args.benchmark))
    started = time.perf_counter()
    jobs = all_jobs(args.seeds, args.strategies, args.signals, args.unit)
    results = collect(jobs, cache, args.benchmark, args.workers)
    print(f"total wall time: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    text = report(argv, args.seeds, results, optimum)
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
