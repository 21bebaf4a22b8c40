"""Zero-cost proxies on NAS-Bench-201: rank correlation with the table, time per architecture.

Two steps, so the long one can be spread over sessions:

``score`` computes proxy scores of NB201 networks (C=16, N=5, 32x32 input, CIFAR-10 mini-batch
from ``cifar10_small.npz``) and appends each to a cache file as soon as it exists; rerunning
skips what is cached. Data-free proxies are scored on all 15,625 architectures
(``--archs all``), the others on a fixed random sample (``--archs sample``: 3,000 table rows
drawn with ``numpy.random.default_rng(0)``)::

    python benchmarks/proxies_nb201.py score --archs all --proxy synflow --proxy params
    python benchmarks/proxies_nb201.py score --archs sample --proxy jacov --proxy nwot

``table`` reads only the cache and prints the Markdown table: Spearman and Kendall rank
correlation of every proxy (and the ensembles) with ``cifar10_valid_acc``, over all
architectures, over the sample, and over the sample's connected cells (those
NAS-Bench-Suite-Zero scored: the 9,445 rows of ``zc_nasbench201.csv.gz`` with scores), with
the published values and the median seconds per architecture::

    python benchmarks/proxies_nb201.py table

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasforge.data.loaders import load_task
from nasforge.evaluate import NB201Table
from nasforge.proxies import ProxyBatch
from nasforge.proxies.cache import ScoreCache
from nasforge.proxies.correlation import kendall, spearman
from nasforge.proxies.ensemble import DEFAULT_MEMBERS, rank_average
from nasforge.proxies.scoring import score_archs
from nasforge.space import NB201Space

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / "results" / "proxies_nb201_scores.csv"
SAMPLE_SIZE, SAMPLE_SEED = 3000, 0
TARGET = "cifar10_valid_acc"
PUBLISHED = {  # shared/benchmarks/PUBLISHED_RESULTS.md 4a (all archs, vs test acc) and 4b
    "synflow": "0.737 / 0.734",
    "jacov": "0.731 / 0.830",
    "snip": "0.596 / 0.545",
    "grad_norm": "0.594 / 0.543",
    "grasp": "0.514 / 0.489",
    "fisher": "0.360 / 0.493",
    "nwot": "- / 0.794",
    "zen": "- / 0.101",
    "vote": "0.817 / -",
}


def shared_path(env: str, *parts: str) -> Path:
    return Path(os.environ[env]) if env in os.environ else SHARED.joinpath(*parts)


def context_of(args: argparse.Namespace) -> str:
    return f"nb201-C16-N5|cifar10_small|batch{args.batch_size}s{args.batch_seed}|seed{args.seed}"


def sample_rows(total: int) -> np.ndarray:
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(total, SAMPLE_SIZE, replace=False))


def published_scores() -> dict[str, dict[str, float]]:
    """NAS-Bench-Suite-Zero's CIFAR-10 scores by NB201 string, for its 9,445 'valid' cells."""
    path = shared_path("NASFORGE_ZC_NB201", "benchmarks", "zc_nasbench201.csv.gz")
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["arch"]: {
            key.removesuffix("_cifar10"): float(value)
            for key, value in row.items()
            if key.endswith("_cifar10") and value not in ("", "nan")
        }
        for row in rows
        if row["synflow_cifar10"] not in ("", "nan")
    }


def command_score(args: argparse.Namespace) -> None:
    torch.set_flush_denormal(True)
    table = NB201Table.from_csv(shared_path("NASFORGE_NB201", "benchmarks", "nb201.csv"))
    space = NB201Space()
    strings = table.arch_strings
    rows = np.arange(len(strings)) if args.archs == "all" else sample_rows(len(strings))
    archs = [space.parse(strings[i]) for i in rows]
    task = load_task("cifar10", shared_path("NASFORGE_DATA", "data", "cifar10_small.npz"))
    batch = ProxyBatch.from_arrays(
        task.x_train, task.y_train, task.num_classes, size=args.batch_size, seed=args.batch_seed
    )
    cache = ScoreCache(args.cache)
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - started
        if now - last[0] > 30 or done == total:
            last[0] = now
            print(f"  {done}/{total} networks, {now:.0f} s", file=sys.stderr, flush=True)

    scored = score_archs(
        space,
        archs,
        args.proxy,
        batch,
        seed=args.seed,
        workers=args.workers,
        threads=args.threads,
        cache=cache,
        context=context_of(args),
        on_progress=progress,
    )
    print(
        f"{len(archs)} archs, {scored.computed} networks computed in {scored.wall_seconds:.1f} s "
        f"({args.workers} workers x {args.threads} threads)"
    )


def command_table(args: argparse.Namespace) -> None:
    table = NB201Table.from_csv(shared_path("NASFORGE_NB201", "benchmarks", "nb201.csv"))
    space = NB201Space()
    strings = table.arch_strings
    accuracy = np.asarray(table.columns[TARGET], dtype=np.float64)
    keys = [space.format(space.canonical(space.parse(s))) for s in strings]
    cache = ScoreCache(args.cache)
    context = context_of(args)
    sample = sample_rows(len(strings))
    published = published_scores()
    connected = set(published)
    sample_connected = np.array([i for i in sample if strings[i] in connected])

    def scores_of(proxy: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        found = [cache.get(keys[i], proxy, context) for i in rows]
        if any(f is None for f in found):
            return None
        return (
            np.array([f[0] for f in found if f is not None]),
            np.array([f[1] for f in found if f is not None]),
        )

    proxies = sorted({proxy for (_, proxy, ctx) in cache._scores if ctx == context})
    print(
        f"Target: `{TARGET}`. Published: Abdelfattah et al. 2021 (all archs, vs 200-ep test) / "
        "NAS-Bench-Suite-Zero recomputed on its 9,445 cells (PUBLISHED_RESULTS.md 4a / 4b)."
    )
    print(
        f"Sample: {SAMPLE_SIZE} rows, numpy default_rng({SAMPLE_SEED}); "
        f"{len(sample_connected)} of them connected.\n"
    )
    print(
        "| proxy | all 15,625: Spearman / Kendall | sample: Spearman / Kendall "
        "| sample, connected: Spearman / Kendall | published | vs published scores "
        "| median ms / arch |"
    )
    print("|---|---|---|---|---|---|---|")
    sample_scores: dict[str, np.ndarray] = {}
    for proxy in proxies:
        cells = []
        seconds = None
        for rows in (np.arange(len(strings)), sample, sample_connected):
            got = scores_of(proxy, rows)
            if got is None:
                cells.append("-")
                continue
            values, spent = got
            seconds = spent if seconds is None else seconds
            if rows is sample:
                sample_scores[proxy] = values
            cells.append(
                f"{spearman(values, accuracy[rows]):.3f} / {kendall(values, accuracy[rows]):.3f}"
            )
        ms = "-" if seconds is None else f"{1000 * float(np.median(seconds)):.0f}"
        agreement = "-"
        rows = np.array([i for i in sample_connected if proxy in published[strings[i]]])
        got = scores_of(proxy, rows) if len(rows) else None
        if got is not None:
            theirs = [published[strings[i]][proxy] for i in rows]
            agreement = f"{spearman(got[0], theirs):.3f}"
        print(
            f"| {proxy} | {' | '.join(cells)} | {PUBLISHED.get(proxy, '-')} | {agreement} | {ms} |"
        )
    members = [m for m in DEFAULT_MEMBERS if m in sample_scores]
    if len(members) >= 2:
        combined = rank_average({m: sample_scores[m] for m in members})
        position = {row: k for k, row in enumerate(sample)}
        connected_at = np.array([position[i] for i in sample_connected])
        print(
            f"| ensemble: rank average of {' + '.join(members)} | - | "
            f"{spearman(combined, accuracy[sample]):.3f} / "
            f"{kendall(combined, accuracy[sample]):.3f} | "
            f"{spearman(combined[connected_at], accuracy[sample_connected]):.3f} / "
            f"{kendall(combined[connected_at], accuracy[sample_connected]):.3f} | "
            f"{PUBLISHED['vote']} (vote) | - | - |"
        )
    print(f"\nCommand: `python benchmarks/proxies_nb201.py {shlex.join(sys.argv[1:])}`")


SEARCH_BUDGETS = (25, 50)
SEARCH_STRATEGIES = ("random", "evolution", "local", "bayesian")


def warm_seeds(
    pool: list[str], scores: dict[str, np.ndarray], seed: int, sample: int, top: int
) -> list[str]:
    """The ``top`` best of ``sample`` pool archs drawn by ``seed``, by rank average of scores."""
    drawn = np.random.default_rng(seed).choice(len(pool), sample, replace=False)
    combined = rank_average({name: values[drawn] for name, values in scores.items()})
    best_first = np.argsort(-combined, kind="stable")[:top]
    return [pool[drawn[i]] for i in best_first]


def command_search(args: argparse.Namespace) -> None:
    """The NB201 strategy protocol at 25 and 50 queries, with and without the warm start."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nb201_search  # the strategy protocol's incumbent rule, shared with that benchmark
    from nasforge.evaluate import NB201Benchmark
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import Experiment
    from nasforge.strategy import make_strategy

    table = NB201Table.from_csv(shared_path("NASFORGE_NB201", "benchmarks", "nb201.csv"))
    space = NB201Space()
    strings = table.arch_strings
    cache = ScoreCache(args.cache)
    context = context_of(args)
    pool = [strings[i] for i in sample_rows(len(strings))]
    keys = [space.format(space.canonical(space.parse(text))) for text in pool]
    scores: dict[str, np.ndarray] = {}
    for proxy in args.warm_proxy:
        found = [cache.get(key, proxy, context) for key in keys]
        if any(f is None for f in found):
            raise SystemExit(f"the cache lacks {proxy} scores of the sample: run `score` first")
        scores[proxy] = np.array([f[0] for f in found if f is not None])
    results: dict[tuple[str, bool], dict[int, list[float]]] = {}
    started = time.perf_counter()
    for label in args.strategies:
        for warm in (False, True):
            per_budget: dict[int, list[float]] = {b: [] for b in SEARCH_BUDGETS}
            for seed in range(args.seeds):
                strategy = make_strategy(label, space, seed=seed)
                if warm:
                    seeds = warm_seeds(pool, scores, seed, args.warm_sample, args.warm_top)
                    strategy = make_strategy(
                        "warm-start", space, seed=seed, inner=label, seeds=seeds
                    )
                evaluator = NB201Benchmark(table, fidelity=12, space=space)
                limit = Budget(queries=max(SEARCH_BUDGETS))
                trials = Experiment(space, strategy, evaluator, budget=limit).run().trials
                evaluated = [t for t in trials if t.evaluated]
                job = nb201_search.Job(label, 12, seed)
                for budget in SEARCH_BUDGETS:
                    found = nb201_search.incumbent(evaluated, budget, job)
                    per_budget[budget].append(found.test_acc)
            results[(label, warm)] = per_budget
            print(f"  {label} warm={warm}: {time.perf_counter() - started:.0f} s", file=sys.stderr)

    def cell(values: list[float]) -> str:
        sem = float(np.std(values, ddof=1) / np.sqrt(len(values)))
        return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f} (s.e. {sem:.2f})"

    members = " + ".join(args.warm_proxy)
    print(
        f"NB201 strategy protocol (12-epoch CIFAR-10 validation signal, 200-epoch test accuracy "
        f"of the incumbent reported), seeds 0..{args.seeds - 1}. Warm start: from the "
        f"{SAMPLE_SIZE}-arch sample, each seed draws {args.warm_sample} archs, ranks them by "
        f"the rank average of {members} (no query spent) and proposes the best "
        f"{args.warm_top} first; they count as queries.\n"
    )
    header = "| strategy | warm start |"
    for budget in SEARCH_BUDGETS:
        header += f" {budget} queries: test acc | {budget}: gain (s.e.) |"
    print(header)
    print("|---|---|" + "---|---|" * len(SEARCH_BUDGETS))
    for label in args.strategies:
        for warm in (False, True):
            row = f"| {label} | {'yes' if warm else 'no'} |"
            for budget in SEARCH_BUDGETS:
                values = results[(label, warm)][budget]
                base = results[(label, False)][budget]
                gain = "-"
                if warm:
                    difference = float(np.mean(values) - np.mean(base))
                    error = float(
                        np.sqrt(
                            np.var(values, ddof=1) / len(values) + np.var(base, ddof=1) / len(base)
                        )
                    )
                    gain = f"{difference:+.2f} ({error:.2f})"
                row += f" {cell(values)} | {gain} |"
            print(row)
    print(f"\nCommand: `python benchmarks/proxies_nb201.py {shlex.join(sys.argv[1:])}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0, help="seed of every network's weights")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="compute scores into the cache")
    score.add_argument("--archs", choices=["all", "sample"], required=True)
    score.add_argument("--proxy", action="append", required=True)
    score.add_argument("--workers", type=int, default=1)
    score.add_argument("--threads", type=int, default=1)
    commands.add_parser("table", help="print the table from the cache")
    search = commands.add_parser("search", help="the warm start's benefit to search")
    search.add_argument("--seeds", type=int, default=100)
    search.add_argument("--strategies", nargs="+", default=list(SEARCH_STRATEGIES))
    search.add_argument("--warm-proxy", action="append", default=None)
    search.add_argument("--warm-sample", type=int, default=1000)
    search.add_argument("--warm-top", type=int, default=10)
    args = parser.parse_args()
    if args.command == "score":
        command_score(args)
    elif args.command == "table":
        command_table(args)
    else:
        args.warm_proxy = args.warm_proxy or ["synflow"]
        command_search(args)


if __name__ == "__main__":
    main()
