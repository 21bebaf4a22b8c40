"""One-shot search on the darts space at CPU scale, and the evaluation of its cells (issue 17).

Three modes (this script is not part of the package):

**--search METHOD**: one search of the darts supernet (``--channels 8 --layers 5`` by
default) on the CIFAR-10 subset (``--data``, else ``$NASFORGE_DATA``, else
``../shared/data``): all 10,000 training images, which the method splits into two
stratified halves (weights / architecture); the trainer's per-epoch validation (the
supernet's learning curve, used for nothing else) runs on the 2,000 test images. Batch 64,
``--epochs`` epochs (the cosine schedule over them), stopped after the epoch that crosses
``--max-minutes`` if it comes first. One JSON row per search is APPENDED to
``docs/data/darts_search.jsonl`` (``--results``): the genotype, the share of skip
connections and of parameter-free ops in it, the time, the epochs run, the supernet's last
validation accuracy.

**--evaluate**: every genotype of three groups trained the same way from scratch, a small
network of the darts space (``--eval-channels 8 --eval-layers 5``: the search network's
size, which a CPU trains in about a minute an epoch), ``--eval-epochs`` (4) epochs of SGD
(lr 0.05, cosine, batch 64, Nesterov momentum 0.9, weight decay 5e-4, crop and flip; no
auxiliary head, no drop path) on the 10,000 training images, for each seed of ``--seeds``;
test accuracy on the 2,000 test images (every cell with the first seed, then every cell
with the next). The groups: **found** (the last row of each method in the search results),
**random** (``--random`` genotypes sampled uniformly from the space with numpy seeds 0, 1,
...), **published** (DARTS_V2, ENAS and NASNet, the last two in the 5-node spaces they
were published in, ``NAMED_OPTIONS``, at the same C and layers). Rows are appended to
``docs/data/darts_eval.jsonl``; an (arch, seed, setting) already there is skipped, so a
killed run resumes. ``--group`` limits it to one group.

**--table**: the Markdown tables of both files, with each group's mean.

Usage::

    python benchmarks/darts_search.py --search darts --epochs 5 --max-minutes 30
    python benchmarks/darts_search.py --evaluate --seeds 0 1
    python benchmarks/darts_search.py --table
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.measure.parameters import count_parameters
from nasforge.oneshot import SearchMonitor, make_method
from nasforge.space.darts.space import NAMED_OPTIONS, DartsSpace
from nasforge.training import TrainConfig, Trainer
from oneshot_nb201 import cifar10_task, data_path  # the same task as the NB201 searches

ROOT = Path(__file__).resolve().parent.parent
SEARCH_RESULTS = ROOT / "docs" / "data" / "darts_search.jsonl"
EVAL_RESULTS = ROOT / "docs" / "data" / "darts_eval.jsonl"
PUBLISHED_CELLS = ("DARTS_V2", "ENAS", "NASNet")
METHOD_OPTIONS: dict[str, dict[str, Any]] = {"pc-darts": {}}


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


# -- search ------------------------------------------------------------------------------------


class EpochLog(SearchMonitor):
    """One line per epoch on stderr: the time so far and the supernet's validation."""

    def __init__(self, label: str) -> None:
        self.label, self.started = label, time.perf_counter()

    def on_epoch(self, metrics: Any, arch: Any) -> None:
        minutes = (time.perf_counter() - self.started) / 60
        print(
            f"[{self.label}] epoch {metrics.epoch + 1}: {minutes:.1f} min, supernet valid "
            f"{100 * metrics.valid_accuracy:.1f}%",
            file=sys.stderr,
            flush=True,
        )


def search(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    space = DartsSpace(channels=args.channels, layers=args.layers)
    task = cifar10_task(data_path(args.data))
    method = make_method(args.search, space, **METHOD_OPTIONS.get(args.search, {}))
    started = time.perf_counter()
    result = method.search(
        task,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        max_seconds=60.0 * args.max_minutes,
        monitor=EpochLog(f"{args.search} seed {args.seed}"),
    )
    minutes = (time.perf_counter() - started) / 60
    skip, parameter_free = space.skip_and_parameter_free_share(result.arch)
    row = {
        "method": args.search,
        "seed": args.seed,
        "channels": args.channels,
        "layers": args.layers,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "epochs_planned": args.epochs,
        "epochs": result.report.epochs_run,
        "stopped": result.report.reason,
        "search_minutes": minutes,
        "genotype": space.format(result.arch),
        "skip_share": skip,
        "parameter_free_share": parameter_free,
        "supernet_valid_acc": 100.0 * result.report.last_valid_accuracy,
        "weights": {
            label: [round(float(p), 4) for p in torch.as_tensor(a).softmax(0)]
            for label, a in result.alpha.items()
        },
        "estimated_mb": result.memory.total_bytes / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    append_row(args.results, row)
    print(
        f"{args.search} seed {args.seed}: {row['epochs']} epochs in {minutes:.1f} min, skip "
        f"{skip:.2f}, parameter-free {parameter_free:.2f}: {row['genotype']}"
    )


# -- evaluation --------------------------------------------------------------------------------


def genotypes(args: argparse.Namespace, space: DartsSpace) -> list[tuple[str, str, str]]:
    """(group, name, genotype text) of every cell to train."""
    cells: list[tuple[str, str, str]] = []
    found: dict[str, str] = {}
    for row in read_rows(args.results):
        if row["channels"] == args.channels and row["layers"] == args.layers:
            found[row["method"]] = row["genotype"]  # the last row of each method
    cells += [("found", method, genotype) for method, genotype in found.items()]
    for index in range(args.random):
        arch = space.sample(np.random.default_rng(index))
        cells.append(("random", f"random {index}", space.format(arch)))
    cells += [("published", name, name) for name in PUBLISHED_CELLS]
    return [cell for cell in cells if args.group in (None, cell[0])]


def eval_space(args: argparse.Namespace, cell: str) -> DartsSpace:
    """The evaluation network's space for ``cell`` (a published name brings its options)."""
    options = NAMED_OPTIONS.get(cell, {})
    return DartsSpace(channels=args.eval_channels, layers=args.eval_layers, **options)


def evaluate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    space = eval_space(args, "")
    task = cifar10_task(data_path(args.data))
    setting = {
        "eval_channels": args.eval_channels,
        "eval_layers": args.eval_layers,
        "eval_epochs": args.eval_epochs,
    }
    done = {
        (row["genotype"], row["seed"])
        for row in read_rows(args.eval_results)
        if all(row.get(key) == value for key, value in setting.items())
    }
    for seed in args.seeds:  # every cell once before any cell twice
        for group, name, text in genotypes(args, space):
            cell_space = eval_space(args, text)
            arch = cell_space.parse(text)
            genotype = cell_space.format(arch)
            skip, parameter_free = cell_space.skip_and_parameter_free_share(arch)
            if (genotype, seed) in done:
                continue
            torch.manual_seed(seed)
            model = cell_space.build(arch, (3, 32, 32), 10)
            config = TrainConfig(
                epochs=args.eval_epochs, batch_size=64, augment=True, seed=seed,
                threads=args.threads,
            )  # fmt: skip
            trainer = Trainer(config)
            report = trainer.fit(model, task)
            accuracy = 100.0 * trainer.evaluate(model, task.x_test, task.y_test)
            row = {
                "group": group,
                "name": name,
                "genotype": genotype,
                "seed": seed,
                **setting,
                "test_acc": accuracy,
                "params": count_parameters(model),
                "skip_share": skip,
                "parameter_free_share": parameter_free,
                "train_minutes": report.seconds / 60,
                "date": time.strftime("%Y-%m-%d %H:%M"),
            }
            append_row(args.eval_results, row)
            print(f"{group} {name} seed {seed}: {accuracy:.2f}% ({report.seconds / 60:.1f} min)")
            sys.stdout.flush()


# -- tables ------------------------------------------------------------------------------------


def table(args: argparse.Namespace) -> None:
    print("| method | seed | epochs | minutes | skip share | parameter-free share "
          "| supernet valid acc | genotype |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for row in read_rows(args.results):
        print(
            f"| {row['method']} | {row['seed']} | {row['epochs']} | {row['search_minutes']:.1f} "
            f"| {row['skip_share']:.2f} | {row['parameter_free_share']:.2f} "
            f"| {row['supernet_valid_acc']:.1f} | `{row['genotype']}` |"
        )
    rows = read_rows(args.eval_results)
    print()
    print("| group | cell | params | skip share | parameter-free share | test acc per seed "
          "| mean |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault((row["group"], row["name"]), []).append(row)
    group_means: dict[str, list[float]] = {}
    for (group, name), cell_rows in by_cell.items():
        accuracies = [row["test_acc"] for row in cell_rows]
        mean = statistics.mean(accuracies)
        group_means.setdefault(group, []).append(mean)
        first = cell_rows[0]
        print(
            f"| {group} | {name} | {first['params']:,} | {first['skip_share']:.2f} "
            f"| {first['parameter_free_share']:.2f} "
            f"| {', '.join(f'{a:.2f}' for a in accuracies)} | {mean:.2f} |"
        )
    print()
    print("| group | cells | mean test acc | sd over cells |")
    print("|---|---|---|---|")
    for group, means in group_means.items():
        spread = statistics.stdev(means) if len(means) > 1 else 0.0
        print(f"| {group} | {len(means)} | {statistics.mean(means):.2f} | {spread:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--search", metavar="METHOD")
    mode.add_argument("--evaluate", action="store_true")
    mode.add_argument("--table", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-channels", type=int, default=8)
    parser.add_argument("--eval-layers", type=int, default=5)
    parser.add_argument("--eval-epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--random", type=int, default=5)
    parser.add_argument("--group", choices=("found", "random", "published"))
    parser.add_argument("--results", type=Path, default=SEARCH_RESULTS)
    parser.add_argument("--eval-results", type=Path, default=EVAL_RESULTS)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    if args.search:
        search(args)
    elif args.evaluate:
        evaluate(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
