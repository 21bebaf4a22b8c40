"""Hardware cost of a network: parameters, FLOPs (multiply-accumulates) and CPU latency.

FLOPs follow NAS-Bench-201's convention: one multiply-accumulate of a convolution or linear
layer counts once; normalization, activations and pooling are not counted.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Trainable and frozen parameters (buffers such as BN statistics are not counted)."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on one example of `input_shape`."""
    total = 0

    def conv_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, (nn.Conv1d, nn.Conv2d))
        kernel = 1
        for size in module.kernel_size:
            kernel *= size
        per_output = (module.in_channels // module.groups) * kernel
        total += output.numel() * per_output

    def linear_hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Linear)
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total


def measure_latency_ms(
    model: nn.Module, input_shape: tuple[int, ...], *, repeats: int = 20, warmup: int = 3
) -> float:
    """Median milliseconds of one batch-1 forward pass in eval mode, after `warmup` passes."""
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
    return statistics.median(timings)
