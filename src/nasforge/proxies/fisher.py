"""fisher (Theis et al. 2018; Turner et al. 2020; as a NAS proxy: Abdelfattah et al. 2021).

For the output activation a of every conv and linear layer and its loss gradient g, per
example n and output channel k: s_nk = sum over positions of a * g, and the channel's
saliency is 0.5 * mean_n s_nk^2. As in the reference implementation (zero-cost-nas, whose
per-channel saliency is broadcast to every weight of the channel before summing), each
saliency counts once per weight of its channel (the layer's fan-in). The proxy is the sum
over layers and channels, on one mini-batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.proxies.base import ProxyBatch, backward, data_of, register, weighted_layers


@register("fisher", needs_data=True, summary="sum of channel saliencies 0.5*mean(sum a*g)^2")
def fisher(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, targets = data_of(batch, "fisher")
    network.train()
    saliencies: list[torch.Tensor] = []

    def keep_activation(module: nn.Module, args: Any, output: torch.Tensor) -> None:
        if not output.requires_grad:
            return
        activation = output.detach()
        weight = module.weight
        assert isinstance(weight, torch.Tensor)
        fan_in = weight[0].numel()

        def on_gradient(gradient: torch.Tensor) -> None:
            product = activation * gradient
            per_channel = (
                product.sum(dim=tuple(range(2, product.dim()))) if product.dim() > 2 else product
            )
            saliencies.append(0.5 * fan_in * per_channel.pow(2).mean(0).sum())

        output.register_hook(on_gradient)  # type: ignore[no-untyped-call]

    handles = [layer.register_forward_hook(keep_activation) for layer in weighted_layers(network)]
    try:
        backward(F.cross_entropy(network(inputs), targets))
    finally:
        for handle in handles:
            handle.remove()
    return float(sum(float(s) for s in saliencies))
