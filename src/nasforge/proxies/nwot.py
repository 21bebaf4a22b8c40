"""nwot: NASWOT (Mellor et al. 2021), the log-determinant of the activation-pattern kernel.

Every ReLU's input is turned into a binary code per example (positive or not); the kernel
K[i, j] counts, over all ReLU units, where examples i and j agree. The score is log|det K|:
higher when the network separates the examples of one mini-batch into distinct linear regions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.proxies.base import ProxyBatch, data_of, register


@register("nwot", needs_data=True, summary="log det of the ReLU activation-pattern kernel")
def nwot(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, _ = data_of(batch, "nwot")
    network.train()
    kernel = torch.zeros(len(inputs), len(inputs), dtype=torch.float64, device=inputs.device)

    def count_agreements(module: nn.Module, args: Any, output: torch.Tensor) -> None:
        codes = (args[0].detach().reshape(len(inputs), -1) > 0).float()
        agree_on = (codes @ codes.T).double()  # both positive
        positives = codes.sum(1, dtype=torch.float64)
        units = codes.shape[1]
        # both non-positive: units - positives_i - positives_j + agree_on
        kernel.add_(2.0 * agree_on + units - positives[:, None] - positives[None, :])

    handles = [
        module.register_forward_hook(count_agreements)
        for module in network.modules()
        if isinstance(module, nn.ReLU)
    ]
    try:
        with torch.no_grad():
            network(inputs)
    finally:
        for handle in handles:
            handle.remove()
    _, log_determinant = np.linalg.slogdet(kernel.numpy())
    return float(log_determinant)
