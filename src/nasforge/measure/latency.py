"""Batch-1 latency of a network measured on this machine's CPU."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn


def measure_latency_ms(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    repeats: int = 20,
    warmup: int = 3,
    statistic: str = "median",
) -> float:
    """Milliseconds of one batch-1 forward pass in eval mode, after `warmup` passes, at the
    current torch thread count: the median of `repeats` timings, or their minimum
    (``statistic="min"``: on a shared machine the minimum is the steadiest estimate of the
    undisturbed time, see `nasforge.measure.latency_table`)."""
    if statistic not in ("median", "min"):
        raise ValueError(f"statistic must be 'median' or 'min', not {statistic!r}")
    was_training = model.training
    example = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    timings = []
    try:
        model.eval()
        with torch.no_grad():
            for _ in range(warmup):
                model(example)
            for _ in range(repeats):
                started = time.perf_counter()
                model(example)
                timings.append((time.perf_counter() - started) * 1000.0)
    finally:
        model.train(was_training)
    return min(timings) if statistic == "min" else statistics.median(timings)
