"""synflow (Tanaka et al. 2020; as a NAS proxy: Abdelfattah et al. 2021), data-free.

The network, without BatchNorm and in double precision, gets the absolute value of every
weight; an all-ones input is passed through; R = sum of the outputs. The score is
sum |theta * dR/dtheta| over convolution and linear weights. We return its natural log, as
NAS-Bench-Suite-Zero does (same ranking; the raw value overflows float32 on deep nets). A
network whose output does not depend on its input scores -inf.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nasforge.measure.latency import model_device
from nasforge.proxies.base import ProxyBatch, backward, register, sum_over_weights


def without_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm layer of ``module`` by an identity, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            without_batchnorm(child)


@register(
    "synflow",
    needs_data=False,
    summary="log sum |w * dR/dw|, all-ones input, |w|, no BN",
    exact=True,
)
def synflow(network: nn.Module, batch: ProxyBatch) -> float:
    without_batchnorm(network)
    network.double().train()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.abs_()
    ones = torch.ones(1, *batch.input_shape, dtype=torch.float64, device=model_device(network))
    backward(network(ones).sum())
    total = sum_over_weights(network, lambda weight, grad: (weight * grad).abs())
    return math.log(total) if total > 0 else -math.inf
