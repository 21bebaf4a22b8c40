"""BatchNorm recalibration: running statistics recomputed for one path of a supernet.

A supernet's BatchNorm layers are shared by every path, so their running statistics (if
they keep any) mix the statistics of all the paths trained; a child exported from a DARTS
supernet, whose candidate ops keep none, starts with fresh ones. Before a path or a child is
evaluated in eval mode, its statistics are recomputed on a few training batches, as SPOS
does (Guo et al., ECCV 2020): reset, then a cumulative average over the batches (momentum
None), in train mode without gradients.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nasforge.measure.latency import model_device

if TYPE_CHECKING:
    from nasforge.data.image_files import ImageFiles


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The model's BatchNorm layers that keep running statistics."""
    return [
        module
        for module in model.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats
    ]


def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Recompute the running statistics of ``model``'s BatchNorm layers on ``batches`` of
    inputs; returns the number of batches used (0 if the model keeps no statistics).

    Layers that the forward passes do not reach (ops off the current path) are reset too.
    The model's mode and the layers' momenta are restored afterwards. Batches are moved
    to the model's device."""
    layers = batchnorms(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    device = model_device(model)
    was_training = model.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches
    used = 0
    model.train()
    try:
        with torch.no_grad():
            for x in batches:
                model(x.to(device))
                used += 1
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        model.train(was_training)
    return used


def calibration_batches(
    x: npt.ArrayLike | torch.Tensor | ImageFiles, batch_size: int, count: int, seed: int
) -> list[torch.Tensor]:
    """``count`` batches (at most all of ``x``) of ``batch_size`` inputs drawn without
    replacement from ``x`` by ``seed`` (of `ImageFiles`, only those are decoded)."""
    from nasforge.data.image_files import ImageFiles

    if isinstance(x, ImageFiles):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        chosen = order[: max(1, count) * batch_size]
        decoded = torch.from_numpy(x[chosen.numpy()])
        return list(torch.split(decoded, batch_size))
    inputs = x if isinstance(x, torch.Tensor) else torch.tensor(np.asarray(x, dtype=np.float32))
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed))
    chosen = order[: max(1, count) * batch_size]
    return [inputs[batch] for batch in torch.split(chosen, batch_size)]
