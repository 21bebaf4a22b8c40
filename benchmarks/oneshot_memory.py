"""Resident memory of a gradient method's training step against its validation pass.

A supernet trained by DARTS runs every candidate of every edge at once; its epoch's
validation pass (no gradients) does the same. The memory check of `nasforge oneshot`
estimates the training step; this script measures, for each validation batch size, the
peak resident memory after 3 training steps at ``--batch-size`` and after a validation pass
over 1,024 images, and the seconds of that pass. Every row runs in a fresh process (peak
resident memory only grows). Inputs are random images of CIFAR-10's shape; the supernet
mixes its candidates with uniform weights, as at the start of a search; one thread.

Usage::

    python benchmarks/oneshot_memory.py --eval-batch-sizes 64 256 1024

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import time

IMAGES = 1024


def peak_mb() -> float:
    """The process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def measure(method_name: str, channels: int, layers: int, batch: int, eval_batch: int) -> dict:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from nasforge.data.task import make_task
    from nasforge.oneshot import make_method
    from nasforge.space import make_space

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    method = make_method(method_name, make_space("darts", channels=channels, layers=layers))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(IMAGES, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, IMAGES)
    task = make_task("random", x, y, x[:10], y[:10], normalize=False, valid_fraction=0.01)
    supernet = method.build_supernet(task, 0)
    estimate = method.estimate_memory(supernet, task, batch)
    uniform = {
        label: torch.full((supernet.num_choices[label],), 1.0 / supernet.num_choices[label])
        for label in method._arch_labels(supernet)
    }
    supernet.use_weights(uniform)
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    supernet.train()
    for step in range(3):
        chunk = slice(step * batch, (step + 1) * batch)
        loss = F.cross_entropy(supernet(xt[chunk]), yt[chunk])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after_steps = peak_mb()
    supernet.eval()
    started = time.perf_counter()
    with torch.no_grad():
        for images in torch.split(xt, eval_batch):
            supernet(images)
    return {
        "estimate_mb": estimate.at(batch) / 1e6,
        "after_steps_mb": after_steps,
        "after_validation_mb": peak_mb(),
        "validation_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--method", default="darts")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        row = measure(args.method, args.channels, args.layers, args.batch_size, args.child)
        print(json.dumps(row))
        return
    print(
        f"{args.method}, darts space C={args.channels}, {args.layers} cells, training batch "
        f"{args.batch_size}; validation over {IMAGES} images; one thread.\n"
    )
    print("| validation batch | estimated step (MB) | peak after 3 steps (MB) "
          "| peak after validation (MB) | validation seconds |")  # fmt: skip
    print("|---|---|---|---|---|")
    for eval_batch in args.eval_batch_sizes:
        child = [sys.executable, __file__, *sys.argv[1:], "--child", str(eval_batch)]
        out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {eval_batch} | {row['estimate_mb']:.0f} | {row['after_steps_mb']:.0f} "
            f"| {row['after_validation_mb']:.0f} | {row['validation_seconds']:.1f} |"
        )
    print("\nCommand: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`")


if __name__ == "__main__":
    main()
