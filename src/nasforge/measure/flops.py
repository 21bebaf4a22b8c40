"""Multiply-accumulates of one forward pass, counted by `torch.utils.flop_counter`.

The convention is NAS-Bench-201's: one multiply-accumulate of a convolution, linear layer or
matrix product counts once; normalization, activations and pooling are not counted.
PyTorch's counter sees the operators that run, not the modules that call them, so functional
calls (`F.conv2d`, `x @ w`, attention) count too, and a module that is skipped at run time
does not.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nasforge.measure.latency import model_device


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass in eval mode on one example of `input_shape`
    (zeros: the count does not depend on values)."""
    was_training = model.training
    counter = FlopCounterMode(display=False)
    try:
        model.eval()
        with torch.no_grad(), counter:
            model(torch.zeros(1, *input_shape, device=model_device(model)))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2  # the counter counts a multiply and an add
