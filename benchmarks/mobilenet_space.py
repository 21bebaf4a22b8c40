"""The mobilenet space's latency lookup table against measured latency (issue 15, part a).

For each input size: a table built on this machine (`nasforge latency build`: every block
timed in 3 rounds of 10 runs at 1 thread, the least time kept, the sum calibrated on 10
random networks), then `--networks` other random networks (another seed) timed whole the
same way; reported: Spearman between predicted and measured, the mean absolute percentage
error of the calibrated prediction and of the plain sum of blocks (ProxylessNAS's), the
range of measured latencies, and the build time.

Parts b (latency-constrained search against random search) and c (compound scaling) of
the issue are not in this script yet.

Usage::

    python benchmarks/mobilenet_space.py --networks 100 --sizes 32 64

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from nasforge.measure.latency_table import build_latency_table, measure_network_ms
from nasforge.space import make_space


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
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
    lines += ["", "Command: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`"]
    print("\n".join(lines))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
