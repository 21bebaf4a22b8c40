"""The baselines every proxy must beat: parameter count and FLOPs (multiply-accumulates)."""

from __future__ import annotations

from torch import nn

from nasforge.measure import count_flops, count_parameters
from nasforge.proxies.base import ProxyBatch, register


@register("params", needs_data=False, summary="number of parameters")
def params(network: nn.Module, batch: ProxyBatch) -> float:
    return float(count_parameters(network))


@register("flops", needs_data=False, summary="multiply-accumulates of conv and linear layers")
def flops(network: nn.Module, batch: ProxyBatch) -> float:
    return float(count_flops(network, batch.input_shape))
