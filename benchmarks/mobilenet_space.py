"""The mobilenet space's latency lookup table against measured latency (issue 15, part a).

For each input size: a table built on this machine (`nasforge latency build`: every block
timed in 3 rounds of 10 runs at 1 thread, the least time kept, the sum calibrated on 10
random networks), then `--networks` other random networks (another seed) timed whole the
same way; reported: Spearman between predicted and measured, the mean absolute percentage
error of the calibrated prediction and of the plain sum of blocks (ProxylessNAS's), the
range of measured latencies, and the build time.

Part b (``--part search``): a latency-constrained search on the CIFAR-10 subset, evolution
against random search under the same constraint and budget (the training evaluator, a
quarter-width space at 32x32; candidates over the bound by the table's prediction are not
trained); each winner's accuracy and its latency measured again (least of 3 rounds).
Part b, one-shot (``--part spos``): SPOS with the latency target on the same space, task,
table and bound: the supernet trained ``--spos-epochs`` on paths predicted within the bound,
evolution over its paths (within the bound), then the winner trained from scratch by the
same training evaluator as the searches' candidates, and measured again.
Part c (``--part scale``): compound scaling of quarter-width EfficientNet-B0 on the subset.

Usage::

    python benchmarks/mobilenet_space.py --networks 100 --sizes 32 64
    python benchmarks/mobilenet_space.py --part search --strategy evolution --budget 30 \
        --table quarter.json   # then --strategy random with the same table
    python benchmarks/mobilenet_space.py --part spos --spos-epochs 10 --table quarter.json
    python benchmarks/mobilenet_space.py --part scale --epochs 3

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from nasforge.measure.latency_table import (
    LatencyTable,
    build_latency_table,
    measure_network_ms,
)
from nasforge.objective import Constraint
from nasforge.oneshot import make_method
from nasforge.run.budget import Budget
from nasforge.run.compound_scaling import coefficient_grid, compound_scaling
from nasforge.run.experiment import Experiment
from nasforge.run.setup import training_evaluator_factory
from nasforge.space import make_space
from nasforge.space.mobilenet.space import MobileNetSpace
from nasforge.strategy import make_strategy

SMALL = {"width_mult": 0.25}
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _table_and_bound(
    args: argparse.Namespace, space: MobileNetSpace, shape: tuple[int, ...]
) -> tuple[Path, LatencyTable, float]:
    """The shared latency table (built if new) and the bound: a quantile of 200 random
    archs' predictions."""
    with_table = args.table or Path(tempfile.mkdtemp()) / "latency.json"
    if with_table.is_file():  # one table for every strategy compared
        table = LatencyTable.load(with_table)
    else:
        table = build_latency_table(space, shape, 10, threads=1)
        table.save(with_table)
    rng = np.random.default_rng(12345)
    predicted = sorted(table.predict(space, space.sample(rng)) for _ in range(200))
    return with_table, table, round(float(np.quantile(predicted, args.quantile)), 2)


def search_part(args: argparse.Namespace) -> list[str]:
    """One constrained search (run each strategy in its own process, side by side)."""
    space = MobileNetSpace(**SMALL)
    shape = (3, 32, 32)
    with_table, _, bound = _table_and_bound(args, space, shape)
    _, make = training_evaluator_factory(
        "cifar10", args.data, epochs=args.epochs, threads=1, seed=args.seed,
        screen=[{"metric": "latency_ms_predicted", "operator": "<=", "bound": bound}],
        latency_table=str(with_table),
    )  # fmt: skip
    started = time.perf_counter()
    result = Experiment(
        space,
        make_strategy(args.strategy, space, seed=args.seed),
        make(space),
        budget=Budget(queries=args.budget),
        constraints=[Constraint("latency_ms_predicted", "<=", bound)],
    ).run()
    seconds = time.perf_counter() - started
    best = result.best
    if best is None:
        return [f"| {args.strategy} | {args.budget} | no feasible trained candidate |"]
    torch.set_num_threads(1)
    arch = space.parse(best.arch)
    print(f"found: {space.format(arch)}", file=sys.stderr, flush=True)
    again = measure_network_ms(space, [arch], shape, 10)[0]
    trained = sum(1 for t in result.trials if t.evaluated and "accuracy" in t.metrics)
    return [
        f"| {args.strategy} | {args.budget} ({trained} trained) | {args.epochs} | {bound} "
        f"| {best.metrics['accuracy']:.2f} | {best.metrics['latency_ms_predicted']:.2f} "
        f"| {again:.2f} | {'yes' if again <= bound else 'no'} | {seconds:.0f} |"
    ]


def spos_part(args: argparse.Namespace) -> list[str]:
    """SPOS with the latency target, its winner retrained by the searches' evaluator."""
    space = MobileNetSpace(**SMALL)
    shape = (3, 32, 32)
    with_table, table, bound = _table_and_bound(args, space, shape)
    task, make = training_evaluator_factory(
        "cifar10", args.data, epochs=args.epochs, threads=1, seed=args.seed,
        latency_table=str(with_table),
    )  # fmt: skip
    torch.set_num_threads(1)
    started = time.perf_counter()
    searcher = make_method("spos", space, latency_table=table, latency_target=bound)
    found = searcher.search(task, epochs=args.spos_epochs, batch_size=64, seed=args.seed)
    search_seconds = time.perf_counter() - started
    trained = make(space).evaluate(found.arch)
    seconds = time.perf_counter() - started
    again = measure_network_ms(space, [found.arch], shape, 10)[0]
    accuracy = trained.metrics["accuracy"]
    print(f"found: {space.format(found.arch)}", file=sys.stderr, flush=True)
    return [
        f"| spos (latency target) | supernet {args.spos_epochs} epochs + "
        f"{searcher.evaluated_} paths scored, winner trained | {args.epochs} | {bound} "
        f"| {accuracy:.2f} | {found.latency_ms:.2f} | {again:.2f} "
        f"| {'yes' if again <= bound else 'no'} | {seconds:.0f} ({search_seconds:.0f} search) |"
    ]


def scale_part(args: argparse.Namespace) -> list[str]:
    space = MobileNetSpace(**SMALL)
    _, make = training_evaluator_factory(
        "cifar10", args.data, epochs=args.epochs, threads=1, seed=args.seed
    )
    report = compound_scaling(
        space, space.parse("efficientnet-b0"), make, base_resolution=32,
        grid=coefficient_grid(limit=args.grid_points), phis=(1, 2, 3),
        on_point=lambda p: print(p, file=sys.stderr, flush=True),
    )  # fmt: skip
    lines = [
        f"Chosen: alpha, beta, gamma = {report.coefficients} ({report.chosen_by})",
        "",
        "| step | phi | alpha | beta | gamma | resolution | accuracy | params | multiply-adds "
        "| latency ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report.points:
        m = p.metrics
        lines.append(
            f"| {p.step} | {p.phi} | {p.alpha} | {p.beta} | {p.gamma} | {p.resolution} "
            f"| {m.get('accuracy', float('nan')):.2f} | {m.get('params', 0):,.0f} "
            f"| {m.get('flops', 0):,.0f} | {m.get('latency_ms', float('nan')):.2f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("lut", "search", "spos", "scale"), default="lut")
    parser.add_argument("--spos-epochs", type=int, default=10)
    parser.add_argument("--remeasure", nargs="+", default=None, help="Archs to time again.")
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--quantile", type=float, default=0.3, help="Bound: this quantile.")
    parser.add_argument("--grid-points", type=int, default=3)
    parser.add_argument("--table", type=Path, default=None, help="Latency table (built if new).")
    args = parser.parse_args(argv)
    command = "Command: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`"
    if args.remeasure:
        space = MobileNetSpace(**SMALL)
        torch.set_num_threads(1)
        archs = [space.parse(text) for text in args.remeasure]
        timed = measure_network_ms(space, archs, (3, 32, 32), 10)
        for text, ms in zip(args.remeasure, timed, strict=True):
            print(f"| {text} | {ms:.2f} |")
        return
    if args.part in ("search", "spos"):
        rows = search_part(args) if args.part == "search" else spos_part(args)
        header = [
            "| strategy | budget | epochs | bound (latency_ms_predicted) | accuracy | predicted ms "
            "| measured again ms | meets bound | seconds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        print("\n".join([*header, *rows, "", command]))
        return
    if args.part == "scale":
        print("\n".join([*scale_part(args), "", command]))
        return
    space = make_space("mobilenet", width_mult=args.width_mult)
    lines = [
        f"mobilenet space (width_mult={args.width_mult}), 10 classes, 1 thread, "
        f"{args.networks} random networks (seed {args.seed}) not used in calibration:",
        "",
        "| input | blocks in table | build s | Spearman | MAPE, calibrated | MAPE, plain sum "
        "| measured ms (min-max) | prediction = offset + scale x sum |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        shape = (3, size, size)
        table = build_latency_table(space, shape, 10, threads=1)
        rng = np.random.default_rng(args.seed)
        archs = [space.sample(rng) for _ in range(args.networks)]
        torch.set_num_threads(1)
        measured = np.array(measure_network_ms(space, archs, shape, 10))
        predicted = np.array([table.predict(space, arch) for arch in archs])
        plain = np.array([table.unit_sum(space, arch) for arch in archs])
        rho = float(spearmanr(predicted, measured)[0])
        mape = float(np.mean(np.abs(predicted - measured) / measured))
        plain_mape = float(np.mean(np.abs(plain - measured) / measured))
        lines.append(
            f"| 3x{size}x{size} | {len(table.entries)} | {table.seconds:.0f} | {rho:.3f} "
            f"| {mape:.1%} | {plain_mape:.1%} | {measured.min():.2f}-{measured.max():.2f} "
            f"| {table.offset:+.3f} ms + {table.scale:.3f} x sum |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", command]
    print("\n".join(lines))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
