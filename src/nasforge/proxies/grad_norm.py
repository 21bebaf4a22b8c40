"""grad_norm (Abdelfattah et al. 2021): the sum over layers of the L2 norm of the weight
gradient of the cross-entropy loss on one mini-batch."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from nasforge.proxies.base import ProxyBatch, backward, data_of, register, sum_over_weights


@register("grad_norm", needs_data=True, summary="sum of per-layer |dL/dw|_2 on one mini-batch")
def grad_norm(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, targets = data_of(batch, "grad_norm")
    network.train()
    backward(F.cross_entropy(network(inputs), targets))
    return sum_over_weights(network, lambda weight, grad: grad.norm())
