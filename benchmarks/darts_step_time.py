"""Step time of a first-order DARTS search step on the `darts` space, ours beside the authors'.

One search step is an architecture step (Adam on alpha after a mixed forward and backward on
an architecture batch) and a weight step (mixed forward, backward, gradient clipping, SGD),
as DARTS's first order (issue 32, item 4). Both sides run it on random 32x32 images with 10
classes, at the same size: ``--channels C``, ``--layers L`` cells (reductions at L/3 and
2L/3), 4 nodes a cell, the 8 DARTS primitives on each of the 14 edges of a cell.

- ours: `DARTS` on ``DartsSpace(channels=C, layers=L)`` (one op vector per edge over `none`
  and the 7 ops, pools followed by non-affine BatchNorm, non-affine preprocessing),
  searched through the one `Trainer`; a hook times each step (from its start to the end of
  its weight step);
- reference: the authors' code as packaged by the NAS-Bench-201 authors (``xautodl`` 1.0.0,
  ``pip install --no-deps xautodl==1.0.0``): ``NASNetworkDARTS`` of ``cell_searchs`` with
  the ``darts`` search space, ``N = L / 3`` cells per stage (the same cell sequence),
  non-affine BatchNorm without running statistics, driven by the glue of its DARTS-V1
  search script (architecture step, then weight step).

Differences that stay: ours trains in channels_last (its default); xautodl's pooling
candidates have no BatchNorm after them in search (DARTS's own ``model_search.py`` has one,
as ours). Each round runs both sides in turn (the first side alternates between rounds),
each ``--warmup`` steps then ``--steps`` timed steps; the figure is the median step time
over every timed step of the rounds, and the ratio is ours / reference (below 1: ours is
faster). Memory is not measured here.

Usage::

    python benchmarks/darts_step_time.py --channels 16 --layers 6 --threads 2
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data import make_task
from nasforge.oneshot import DARTS
from nasforge.space.darts.space import DartsSpace
from nasforge.training import TrainerHooks


class StepClock(TrainerHooks):
    """Seconds of each search step: from its start (before the architecture step) to the end
    of its weight step."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        self._start = time.perf_counter()

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def ours(args: argparse.Namespace, seed: int) -> list[float]:
    """Step times of our first-order DARTS (one epoch of warm-up + timed steps)."""
    steps, batch = args.warmup + args.steps, args.batch_size
    n = 2 * steps * batch  # the bilevel split halves it: ``steps`` weight batches
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + batch, 3, 32, 32, generator=generator).numpy()
    y = (np.arange(n + batch) % 10).astype(np.int64)
    task = make_task("random32", x, y, x[:batch], y[:batch], normalize=False)
    task = dataclasses.replace(task, x_train=x[:n], y_train=y[:n], x_valid=x[n:], y_valid=y[n:])
    method = DARTS(DartsSpace(channels=args.channels, layers=args.layers))
    clock = StepClock()
    method.search(task, epochs=1, batch_size=batch, seed=seed, threads=args.threads, hooks=[clock])
    assert len(clock.seconds) == steps, len(clock.seconds)
    return clock.seconds[args.warmup :]


def reference(args: argparse.Namespace, seed: int) -> list[float]:
    """Step times of xautodl's NASNetworkDARTS with its DARTS-V1 script's step."""
    from xautodl.models.cell_operations import SearchSpaceNames  # type: ignore[import-not-found]
    from xautodl.models.cell_searchs.search_model_darts_nasnet import (  # type: ignore[import-not-found]
        NASNetworkDARTS,
    )

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as our Trainer does
    torch.manual_seed(seed)
    net = NASNetworkDARTS(
        args.channels, args.layers // 3, 4, 4, 3, 10, SearchSpaceNames["darts"], False, False
    )
    w_opt = torch.optim.SGD(
        net.get_weights(), 0.025, momentum=0.9, weight_decay=3e-4, nesterov=True
    )
    a_opt = torch.optim.Adam(net.get_alphas(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    generator = torch.Generator().manual_seed(seed)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.randn(args.batch_size, 3, 32, 32, generator=generator)
        return images, torch.randint(0, 10, (args.batch_size,), generator=generator)

    net.train()
    seconds = []
    for _ in range(args.warmup + args.steps):
        (x, y), (xa, ya) = batch(), batch()
        started = time.perf_counter()
        a_opt.zero_grad()
        F.cross_entropy(net(xa)[1], ya).backward()  # type: ignore[no-untyped-call]
        a_opt.step()
        w_opt.zero_grad()
        F.cross_entropy(net(x)[1], y).backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(net.parameters(), 5)
        w_opt.step()
        seconds.append(time.perf_counter() - started)
    return seconds[args.warmup :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--layers", type=int, default=6, help="cells; a multiple of 3")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.layers % 3:
        parser.error(f"--layers must be a multiple of 3 (xautodl's 3N cells), not {args.layers}")
    sides: dict[str, Callable[[argparse.Namespace, int], list[float]]] = {
        "ours (nasforge DARTS, darts space)": ours,
        "xautodl NASNetworkDARTS (DARTS-V1 step)": reference,
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for index in range(args.rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name] += sides[name](args, index)
    print(
        f"first-order DARTS step, C={args.channels}, {args.layers} cells, batch "
        f"{args.batch_size} at 32x32, {args.threads} threads, {args.rounds} rounds of "
        f"{args.steps} steps after {args.warmup}"
    )
    print("| side | median s/step | min | max |")
    print("|---|---|---|---|")
    for name, values in times.items():
        print(
            f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
        )
    mine, theirs = (statistics.median(v) for v in times.values())
    print(f"ratio ours / reference: {mine / theirs:.2f}")


if __name__ == "__main__":
    main()
