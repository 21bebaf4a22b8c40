"""grasp (Wang et al. 2020; as a NAS proxy: Abdelfattah et al. 2021): sum of -w * (H g) over
conv and linear weights, where g is the loss gradient and H the Hessian of the loss, both on
one mini-batch. Hg is a Hessian-vector product: the gradient of g_fixed . g(w)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.proxies.base import ProxyBatch, data_of, layer_weights, register


@register("grasp", needs_data=True, summary="sum -w * Hg (Hessian-gradient product)")
def grasp(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, targets = data_of(batch, "grasp")
    network.train()
    weights = layer_weights(network)
    loss = F.cross_entropy(network(inputs), targets)
    fixed = torch.autograd.grad(loss, weights, allow_unused=True)
    loss = F.cross_entropy(network(inputs), targets)
    live = [
        (weight, g_fixed)
        for weight, g_fixed in zip(weights, fixed, strict=True)
        if g_fixed is not None
    ]
    if not live:
        return 0.0
    gradients = torch.autograd.grad(loss, [w for w, _ in live], create_graph=True)
    inner = sum((g * g_fixed).sum() for g, (_, g_fixed) in zip(gradients, live, strict=True))
    assert isinstance(inner, torch.Tensor)
    hessian_gradient = torch.autograd.grad(inner, [w for w, _ in live], allow_unused=True)
    total = 0.0
    for (weight, _), hg in zip(live, hessian_gradient, strict=True):
        if hg is not None:
            total += float((-weight.detach() * hg).sum())
    return total
