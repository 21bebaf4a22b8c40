"""The darts space: published cells' sizes, and the cost of one supernet search step.

Part 1 prints the parameters and multiply-adds of every published cell at the DARTS
CIFAR-10 setting (C=36, 20 layers, 10 classes, 32x32, no auxiliary head). Part 2 times
one weight step and one architecture step (first order) of `darts` and `pc-darts` on the
supernet at the issue's CPU scale (C=8, 5 cells by default) on random 32x32 batches in the
channels_last memory format (as `Trainer` runs image models; PyTorch's depthwise
convolutions are about 9x faster so on this CPU): the median over `--steps` steps after one
warm-up, at `--threads` threads.

The searches at this scale and the evaluation of found, random and published cells trained
the same way are in `benchmarks/darts_search.py`.

Usage::

    python benchmarks/darts_space.py --steps 3 --threads 1

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from nasforge.measure.flops import count_flops
from nasforge.measure.parameters import count_parameters
from nasforge.space.darts.genotype import PUBLISHED
from nasforge.space.darts.space import NAMED_OPTIONS, DartsSpace


def published_sizes() -> list[str]:
    lines = ["| cell | parameters | multiply-adds |", "|---|---|---|"]
    for name in PUBLISHED:
        space = DartsSpace(channels=36, layers=20, **NAMED_OPTIONS.get(name, {}))
        model = space.build(space.parse(name)).eval()
        params, flops = count_parameters(model), count_flops(model, (3, 32, 32))
        lines.append(f"| {name} | {params:,} | {flops / 1e6:,.0f}M |")
    return lines


def step_seconds(partial: int, channels: int, layers: int, batch: int, steps: int) -> float:
    space = DartsSpace(channels=channels, layers=layers)
    torch.manual_seed(0)
    supernet = space.supernet((3, 32, 32), 10, partial_channels=partial)
    supernet.net.to(memory_format=torch.channels_last)  # as the Trainer runs image models
    alpha = {label: torch.zeros(n, requires_grad=True) for label, n in supernet.num_choices.items()}
    weights = torch.optim.SGD(supernet.net.parameters(), lr=0.025, momentum=0.9)
    arch = torch.optim.Adam(alpha.values(), lr=3e-4)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    timings = []
    for step in range(steps + 1):
        started = time.perf_counter()
        for optimizer, detach in ((arch, False), (weights, True)):
            optimizer.zero_grad()
            supernet.use_weights(
                {k: (v.detach() if detach else v).softmax(0) for k, v in alpha.items()}
            )
            F.cross_entropy(supernet(x), y).backward()  # as the methods run it
            optimizer.step()
        if step:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print("\n".join(published_sizes()))
    print()
    print(
        f"One search step (architecture + weights, first order), C={args.channels}, "
        f"{args.layers} cells, batch {args.batch}, {args.threads} thread(s):"
    )
    print("| method | seconds per step | steps per epoch (5,000 images) | minutes per epoch |")
    print("|---|---|---|---|")
    for method, partial in (("darts", 1), ("pc-darts", 4)):
        seconds = step_seconds(partial, args.channels, args.layers, args.batch, args.steps)
        per_epoch = -(-5000 // args.batch)
        print(f"| {method} | {seconds:.2f} | {per_epoch} | {seconds * per_epoch / 60:.0f} |")


if __name__ == "__main__":
    main()
