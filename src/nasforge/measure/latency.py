"""Batch-1 latency of a network measured on the device it lives on.

On the CPU a pass is timed by the wall clock; on a GPU, whose work runs asynchronously, by
CUDA events recorded around it, read after synchronizing (the same code path otherwise).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from nasforge.device import autocast, synchronize


def measure_latency_ms(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    repeats: int = 20,
    warmup: int = 3,
    statistic: str = "median",
    precision: str = "fp32",
) -> float:
    """Milliseconds of one batch-1 forward pass in eval mode on the model's device (that of
    its first parameter or buffer, else the CPU), after `warmup` passes, at the current
    torch thread count: the median of `repeats` timings, or their minimum
    (``statistic="min"``: on a shared machine the minimum is the steadiest estimate of the
    undisturbed time, see `nasforge.measure.latency_table`). ``precision`` bf16 or fp16
    times the passes under that autocast."""
    if statistic not in ("median", "min"):
        raise ValueError(f"statistic must be 'median' or 'min', not {statistic!r}")
    was_training = model.training
    device = model_device(model)
    example = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    example = example.to(device)
    timings = []
    try:
        model.eval()
        with torch.no_grad(), autocast(device, precision):
            for _ in range(warmup):
                model(example)
            for _ in range(repeats):
                timings.append(_timed_ms(model, example, device))
    finally:
        model.train(was_training)
    return min(timings) if statistic == "min" else statistics.median(timings)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a model of none."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _timed_ms(model: nn.Module, example: torch.Tensor, device: torch.device) -> float:
    """Milliseconds of one pass: CUDA events on a GPU (after synchronizing), else the clock."""
    if device.type == "cuda":
        begin = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        begin.record()
        model(example)
        end.record()
        torch.cuda.synchronize(device)
        return float(begin.elapsed_time(end))
    started = time.perf_counter()
    model(example)
    synchronize(device)
    return (time.perf_counter() - started) * 1000.0
