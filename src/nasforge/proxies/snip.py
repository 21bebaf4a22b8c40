"""snip (Lee et al. 2019; as a NAS proxy: Abdelfattah et al. 2021): connection sensitivity,
sum |w * dL/dw| of the cross-entropy loss on one mini-batch over conv and linear weights."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from nasforge.proxies.base import ProxyBatch, backward, data_of, register, sum_over_weights


@register("snip", needs_data=True, summary="sum |w * dL/dw| on one mini-batch")
def snip(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, targets = data_of(batch, "snip")
    network.train()
    backward(F.cross_entropy(network(inputs), targets))
    return sum_over_weights(network, lambda weight, grad: (weight * grad).abs())
