"""Cells of the darts space judged by the NAS-Bench-301 surrogate (issue 32 item 3, issue 34).

Every genotype is scored by the surrogate's predicted validation accuracy at epoch 98 (a
**prediction**, not a measurement) as a percentile of ``--random`` (10,000) genotypes
sampled uniformly from the darts space over NAS-Bench-301's 7 ops with two different inputs
per node (``DartsSpace(distinct_inputs=True)``, numpy seed ``--random-seed``). The
percentile of a score is the share of random genotypes below it, ties counted half.

Three modes (this script is not part of the package):

**--subset PATH**: write the CPU-scale search data: the first ``--train-per-class`` (100)
training and ``--test-per-class`` (50) test images of each class of the CIFAR-10 subset
(``--data``, else ``../shared/data/cifar10_small.npz``), in their stored order.

**--search METHOD --seed S**: one ``nasforge oneshot`` search (the CLI, in a subprocess) of
the darts space at ``--channels`` 8, ``--layers`` 3, ``--epochs`` 4, batch 64, one thread,
on the ``--subset`` file (``--max-minutes``: stopped after the epoch that crosses it); its
``--json`` output, with the wall time, is appended to
``--results`` (``docs/data/darts_surrogate_search.jsonl``).

**--table**: the random scale (median, 90th, 99th percentiles), the published cells, and
the found cells of the searches before issue 32 (``docs/data/darts_search.jsonl`` and the
4-epoch trainings of ``darts_eval.jsonl``) and after (``--results``), each as a percentile,
beside the accuracies the CPU-scale runs reported; then the issue's targets.

Usage::

    python benchmarks/darts_surrogate.py --subset /tmp/cifar10_1000.npz
    for s in 0 1; do for m in darts pc-darts gdas beta-darts darts2; do
        python benchmarks/darts_surrogate.py --search $m --seed $s --subset /tmp/cifar10_1000.npz
    done; done
    python benchmarks/darts_surrogate.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.errors import ArchError
from nasforge.evaluate.nb301 import NB301Surrogate, nb301_config
from nasforge.space.darts.genotype import PUBLISHED, Genotype, parse_genotype
from nasforge.space.darts.space import DartsSpace

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
RESULTS = ROOT / "docs" / "data" / "darts_surrogate_search.jsonl"
BEFORE_SEARCH = ROOT / "docs" / "data" / "darts_search.jsonl"
BEFORE_EVAL = ROOT / "docs" / "data" / "darts_eval.jsonl"
METHODS = ("darts", "darts2", "pc-darts", "gdas", "beta-darts")
EPOCH = 98


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- the subset and the searches ---------------------------------------------------------------


def write_subset(args: argparse.Namespace) -> None:
    source = args.data or SHARED / "data" / "cifar10_small.npz"
    with np.load(source) as data:
        arrays = {key: data[key] for key in ("x_train", "y_train", "x_test", "y_test")}

    def first(labels: np.ndarray, per_class: int) -> np.ndarray:
        picked = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
        return np.sort(np.concatenate(picked))

    train = first(arrays["y_train"], args.train_per_class)
    test = first(arrays["y_test"], args.test_per_class)
    np.savez_compressed(
        args.subset,
        x_train=arrays["x_train"][train],
        y_train=arrays["y_train"][train],
        x_test=arrays["x_test"][test],
        y_test=arrays["y_test"][test],
    )
    print(f"{args.subset}: {len(train)} training and {len(test)} test images")


def search(args: argparse.Namespace) -> None:
    command = [
        sys.executable, "-m", "nasforge.cli", "oneshot", "--method", args.search,
        "--space", "darts", "-s", f"channels={args.channels}", "-s", f"layers={args.layers}",
        "--task", "cifar10", "--data", str(args.subset), "--epochs", str(args.epochs),
        "--seed", str(args.seed), "--threads", "1", "--json",
    ]  # fmt: skip
    if args.max_minutes is not None:
        command += ["--max-minutes", str(args.max_minutes)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{args.search} seed {args.seed} failed: {done.stderr.strip()[-500:]}")
    row = {
        "method": args.search,
        "seed": args.seed,
        "channels": args.channels,
        "layers": args.layers,
        "epochs_planned": args.epochs,
        "wall_minutes": (time.perf_counter() - started) / 60,
        "load_average": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "output": json.loads(done.stdout),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(f"{args.search} seed {args.seed}: {row['output']['arch']}")


# -- scoring -----------------------------------------------------------------------------------


class Scale:
    """Surrogate predictions of random genotypes, and percentiles against them."""

    def __init__(self, surrogate: NB301Surrogate, count: int, seed: int) -> None:
        space = DartsSpace(distinct_inputs=True)
        rng = np.random.default_rng(seed)
        cells = [space.to_genotype(space.sample(rng)) for _ in range(count)]
        self.surrogate = surrogate
        self.scores = np.sort(100.0 * surrogate.predict(cells, EPOCH)[:, 0])

    def percentile(self, score: float) -> float:
        below = np.searchsorted(self.scores, score, side="left")
        not_above = np.searchsorted(self.scores, score, side="right")
        return float(100.0 * (below + not_above) / 2 / len(self.scores))

    def score(self, genotype: Genotype) -> tuple[float, float] | str:
        """(predicted accuracy %, percentile), or why the surrogate cannot score it."""
        try:
            nb301_config(genotype)
        except ArchError as exc:
            return str(exc)
        accuracy = float(100.0 * self.surrogate.predict([genotype], EPOCH)[0, 0])
        return accuracy, self.percentile(accuracy)


def cell_text(result: tuple[float, float] | str) -> str:
    if isinstance(result, str):
        return f"not scored: {result}"
    return f"{result[0]:.2f} | {result[1]:.1f}"


def skip_count(genotype: Genotype) -> str:
    ops = [op for op, _ in (*genotype.normal, *genotype.reduce)]
    return f"{ops.count('skip_connect')}/{ops.count('none')}"


def table(args: argparse.Namespace) -> None:
    surrogate = NB301Surrogate(args.benchmark)
    started = time.perf_counter()
    scale = Scale(surrogate, args.random, args.random_seed)
    quantiles = np.percentile(scale.scores, [50, 90, 99])
    print(
        f"{args.random} random genotypes (seed {args.random_seed}, "
        f"{time.perf_counter() - started:.0f} s): median {quantiles[0]:.3f}, "
        f"90th {quantiles[1]:.3f}, 99th {quantiles[2]:.3f}, max {scale.scores[-1]:.3f} "
        "(surrogate predictions, validation accuracy % at epoch 98)"
    )
    print("\n| published cell | predicted acc | percentile |")
    print("|---|---|---|")
    for name, genotype in PUBLISHED.items():
        print(f"| {name} | {cell_text(scale.score(genotype))} |")

    tests: dict[str, list[float]] = {}
    for row in read_rows(BEFORE_EVAL):
        if row["group"] == "found":
            tests.setdefault(row["genotype"], []).append(row["test_acc"])
    print("\n**Before** (searches of 2026-12-04: C=8, 5 cells, 10,000 images):\n")
    print("| method | seed | epochs | supernet valid acc | 4-epoch test acc (2 seeds) "
          "| skip/none ops | predicted acc | percentile |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    before: dict[str, list[float]] = {}
    for row in read_rows(BEFORE_SEARCH):
        genotype = parse_genotype(row["genotype"])
        result = scale.score(genotype)
        if not isinstance(result, str):
            before.setdefault(row["method"], []).append(result[1])
        trained = ", ".join(f"{a:.1f}" for a in tests.get(str(genotype), []))
        print(
            f"| {row['method']} | {row['seed']} | {row['epochs']} "
            f"| {row['supernet_valid_acc']:.1f} | {trained} | {skip_count(genotype)} "
            f"| {cell_text(result)} |"
        )

    print(f"\n**After** ({args.results.name}):\n")
    print("| method | seed | epochs | minutes | supernet valid acc | skip/none ops "
          "| predicted acc | percentile | genotype |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    after: dict[str, list[float]] = {}
    for row in sorted(
        read_rows(args.results), key=lambda r: (METHODS.index(r["method"]), r["seed"])
    ):
        output = row["output"]
        genotype = parse_genotype(output["arch"])
        result = scale.score(genotype)
        if not isinstance(result, str):
            after.setdefault(row["method"], []).append(result[1])
        print(
            f"| {row['method']} | {row['seed']} | {output['epochs']} "
            f"| {row['wall_minutes']:.1f} | {output['supernet_valid_accuracy']:.1f} "
            f"| {skip_count(genotype)} | {cell_text(result)} | `{genotype}` |"
        )

    print("\n| method | before: percentile | after: mean percentile over seeds |")
    print("|---|---|---|")
    for method in METHODS:
        old = before.get(method, [])
        new = after.get(method, [])
        now = "not run"
        if new:
            now = f"{statistics.mean(new):.1f} ({', '.join(f'{p:.1f}' for p in new)})"
        print(f"| {method} | {', '.join(f'{p:.1f}' for p in old) or '-'} | {now} |")
    means = [statistics.mean(p) for p in after.values() if p]
    if means:
        print(
            f"\nAfter: mean percentile over {len(means)} methods {statistics.mean(means):.1f} "
            f"(target > 50); best method {max(means):.1f} (target >= 90)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--search", metavar="METHOD", choices=METHODS)
    mode.add_argument("--table", action="store_true")
    parser.add_argument("--subset", type=Path, help="the search data (written without --search)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, help="stop after the epoch crossing it")
    parser.add_argument("--random", type=int, default=10_000)
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--benchmark", type=Path, default=SHARED / "benchmarks" / "nb301_surrogate")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.table:
        table(args)
    elif args.subset is None:
        parser.error("give --table, or --subset PATH (with --search METHOD to search on it)")
    elif args.search:
        search(args)
    else:
        write_subset(args)


if __name__ == "__main__":
    main()
