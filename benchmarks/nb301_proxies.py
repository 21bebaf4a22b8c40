"""Zero-cost proxies on the DARTS space: nasforge's recomputed on NAS-Bench-Suite-Zero's 725.

``../shared/benchmarks/nb301_surrogate/nb301_zc_725.csv`` holds 725 DARTS genotypes with
their NAS-Bench-301 validation accuracy and 12 proxy scores that NASLib computed. This script
builds each genotype with nasforge's ``darts`` space as NAS-Bench-301 trained it (32
channels, 8 cells: nasforge's parameter count is within 1% of the CSV's ``params``; NASLib's
stem and head differ slightly) and scores it with nasforge's proxies on one mini-batch of
``cifar10_small.npz`` (``--batch-size`` images of its train split, drawn with ``--batch-seed``),
weights drawn from ``--seed``. Scores are appended to a cache file as soon as they exist, so a
rerun skips what is cached and a slow proxy can be scored on fewer genotypes
(``--count``: the first N of a fixed random order of the 725 rows, ``default_rng(0)``).

For each proxy (both nasforge and NASLib compute it) over the genotypes scored: Spearman
against the CSV's ``val_accuracy``, NASLib's own Spearman on the same genotypes, and
Spearman between nasforge's and NASLib's scores::

    python benchmarks/nb301_proxies.py --count 200 --proxy synflow --proxy params --proxy flops
    python benchmarks/nb301_proxies.py --count 30 --proxy nwot --proxy jacov

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasforge.data.loaders import load_task
from nasforge.proxies import ProxyBatch
from nasforge.proxies.cache import ScoreCache
from nasforge.proxies.correlation import spearman
from nasforge.proxies.scoring import score_archs
from nasforge.space import make_space

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
DEFAULT_CACHE = REPO_ROOT / "benchmarks" / "results" / "nb301_proxies_scores.csv"
SHARED_PROXIES = (
    *("fisher", "flops", "grad_norm", "grasp", "jacov", "nwot", "params", "snip", "synflow"),
)
"""The proxies both nasforge and the CSV (NASLib) have."""


def shared_path(env: str, *parts: str) -> Path:
    return Path(os.environ[env]) if env in os.environ else SHARED.joinpath(*parts)


def read_rows() -> list[dict[str, str]]:
    path = shared_path("NASFORGE_BENCHMARKS", "benchmarks") / "nb301_surrogate"
    with (path / "nb301_zc_725.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def order(total: int) -> np.ndarray:
    """The fixed random order whose first ``--count`` rows are scored."""
    return np.random.default_rng(0).permutation(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proxy", action="append", choices=SHARED_PROXIES, default=None)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-seed", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--table-only", action="store_true", help="print from the cache")
    args = parser.parse_args()
    proxies = args.proxy or list(SHARED_PROXIES)
    torch.set_flush_denormal(True)
    rows = read_rows()
    picked = [rows[i] for i in order(len(rows))[: args.count]]
    space = make_space("darts", channels=args.channels, layers=args.layers, distinct_inputs=True)
    archs = [space.parse(row["genotype"]) for row in picked]
    context = (
        f"darts-C{args.channels}-L{args.layers}|cifar10_small|"
        f"batch{args.batch_size}s{args.batch_seed}|seed{args.seed}"
    )
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    cache = ScoreCache(args.cache)
    if not args.table_only:
        task = load_task("cifar10", shared_path("NASFORGE_DATA", "data", "cifar10_small.npz"))
        batch = ProxyBatch.from_arrays(
            task.x_train,
            task.y_train,
            task.num_classes,
            size=args.batch_size,
            seed=args.batch_seed,
        )
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(
                f"  {done}/{total} networks, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

        scored = score_archs(
            space,
            archs,
            proxies,
            batch,
            seed=args.seed,
            threads=args.threads,
            cache=cache,
            context=context,
            on_progress=progress,
            share_isomorphic=False,
        )
        print(f"{len(archs)} genotypes, {scored.computed} computed in {scored.wall_seconds:.0f} s")
    keys = [space.format(a) for a in archs]
    accuracy = np.array([float(row["val_accuracy"]) for row in picked])
    print(
        f"\n{args.count} of the 725 genotypes (the first of default_rng(0)'s order), darts C="
        f"{args.channels}, {args.layers} cells, batch {args.batch_size} of cifar10_small\n"
    )
    print(
        "| proxy | genotypes | Spearman vs val_accuracy (nasforge) | same, NASLib's scores "
        "| Spearman nasforge vs NASLib | median s / genotype |"
    )
    print("|---|---|---|---|---|---|")
    for proxy in proxies:
        found = [cache.get(key, proxy, context) for key in keys]
        have = np.array([f is not None for f in found])
        if not have.any():
            continue
        ours = np.array([f[0] for f in found if f is not None])
        seconds = np.array([f[1] for f in found if f is not None])
        theirs = np.array([float(row[proxy]) for row, h in zip(picked, have, strict=True) if h])
        print(
            f"| {proxy} | {int(have.sum())} | {spearman(ours, accuracy[have]):.3f} | "
            f"{spearman(theirs, accuracy[have]):.3f} | {spearman(ours, theirs):.3f} | "
            f"{float(np.median(seconds)):.1f} |"
        )


if __name__ == "__main__":
    main()
