"""jacov: Jacobian covariance (Mellor et al. 2020, NASWOT v1; as in Abdelfattah et al. 2021).

J holds, per example of one mini-batch, the gradient of the summed outputs with respect to
the input. With C the correlation matrix of J's rows and eigenvalues v, the score is
-sum(log(v + k) + 1 / (v + k)), k = 1e-5: higher when the examples' Jacobians are less
correlated. A network whose Jacobian rows are constant gets -inf.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from nasforge.proxies.base import ProxyBatch, backward, data_of, register

_K = 1e-5


@register("jacov", needs_data=True, summary="-sum(log(v+k)+1/(v+k)), v: eig of corr(dy/dx)")
def jacov(network: nn.Module, batch: ProxyBatch) -> float:
    inputs, _ = data_of(batch, "jacov")
    network.train()
    inputs = inputs.clone().requires_grad_(True)
    output = network(inputs)
    backward(output, torch.ones_like(output))
    if inputs.grad is None:  # the output does not depend on the input
        return -math.inf
    jacobians = inputs.grad.reshape(len(inputs), -1).double().numpy()
    if np.any(jacobians.std(axis=1) == 0):
        return -math.inf
    correlations = np.corrcoef(jacobians)
    eigenvalues = np.linalg.eigvalsh(correlations)
    return float(-np.sum(np.log(eigenvalues + _K) + 1.0 / (eigenvalues + _K)))
