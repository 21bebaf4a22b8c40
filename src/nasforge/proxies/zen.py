"""zen (Lin et al. 2021, Zen-NAS), data-free.

Weights are redrawn from N(0, 1) (BatchNorm: weight 1, bias 0); two Gaussian batches x and
x + 0.01 * e go through the network in training mode. The score is
log(mean_n sum |f(x) - f(x + 0.01 e)|) + sum over BatchNorm layers of log sqrt(mean running
variance), where f is the feature map before global pooling (else the classifier's input).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from nasforge.measure.latency import model_device
from nasforge.proxies.base import ProxyBatch, register

_MIXUP = 1e-2


def gaussian_init(network: nn.Module) -> None:
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


def _feature_layer(network: nn.Module) -> nn.Module:
    """The last global pooling layer (its input is the feature map), else the last linear."""
    pools = [
        m
        for m in network.modules()
        if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
    ]
    if pools:
        return pools[-1]
    linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else network


@register("zen", needs_data=False, summary="log feature change under Gaussian input noise + BN")
def zen(network: nn.Module, batch: ProxyBatch) -> float:
    gaussian_init(network)
    network.train()
    features: list[torch.Tensor] = []

    def keep_input(module: nn.Module, args: Any, output: torch.Tensor) -> None:
        features.append(args[0].detach())

    handle = _feature_layer(network).register_forward_hook(keep_input)
    shape = (batch.size, *batch.input_shape)
    try:
        with torch.no_grad():
            # drawn on the CPU from the seeded generator (the same noise on every device)
            clean = torch.randn(shape)
            noisy = (clean + _MIXUP * torch.randn(shape)).to(model_device(network))
            clean = clean.to(noisy.device)
            network(clean)
            network(noisy)
    finally:
        handle.remove()
    difference = (features[0] - features[1]).abs().reshape(batch.size, -1).sum(1).mean()
    if not difference > 0:
        return -math.inf
    score = math.log(float(difference))
    for module in network.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_var is not None:
            score += math.log(math.sqrt(float(module.running_var.mean())))
    return score
