"""A module choice in a supernet (`MixedModule`) and the "no connection" candidate (`Zero`),
with the speed-ups every space gets from them: skipped zeros, one shared ReLU per input, a
3x3 average pool run as a box filter, partial channels (PC-DARTS) with a channel shuffle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space.choices.mode import SuperMode


class Zero(nn.Module):
    """A candidate that outputs zeros shaped like its input, or like its input subsampled
    by ``stride`` ("no connection": NB201's and DARTS's ``none``); a supernet skips it
    instead of adding zeros."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[..., :: self.stride, :: self.stride])


class MixedModule(nn.Module):
    """A module choice in a supernet: every candidate, run as the shared `SuperMode` says
    (weighted sum of all, or the chosen one, optionally scaled by its weight).

    Speed, with no code of the space's own: `Zero` candidates are skipped; candidates that
    are an ``nn.Sequential`` starting with ``nn.ReLU`` share one ReLU of each input within a
    forward pass (all the choices fed by one tensor); ``AvgPool2d(3, 1, 1,
    count_include_pad=False)`` runs as `box_average_3x3`; with ``partial`` and partial
    channels ``K``, only the first ``C/K`` channels go through the candidates, the rest
    around them, then the channels are shuffled (PC-DARTS). The supernet's ``batchnorm``
    options (affine, track_running_stats) replace the candidates' BatchNorm layers."""

    def __init__(
        self,
        label: str,
        candidates: Mapping[str, nn.Module],
        mode: SuperMode,
        *,
        partial: bool = False,
    ) -> None:
        super().__init__()
        self.label = label
        self.names = tuple(candidates)
        if mode.batchnorm is not None:
            for module in candidates.values():
                _replace_batchnorm(module, mode.batchnorm)
        self.candidates = nn.ModuleDict(candidates)
        self.mode = mode
        self.partial = partial and mode.partial_channels > 1
        self.sharers = [1]  # how many module choices hold these candidates (one list for all)
        self._runners = [_runner(module) for module in candidates.values()]

    def _run(
        self, index: int, x: torch.Tensor, source: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor | None:
        """Candidate ``index`` on ``x`` (the part of ``source`` it sees); None for zeros."""
        kind = self._runners[index][0]
        if kind == "zero":
            return None
        outputs = self.mode.outputs
        if self.sharers[0] == 1 or outputs is None or args or kw:
            return self._compute(index, x, source, args, kw)
        key = (id(self.candidates[self.names[index]]), id(source))
        hit = outputs.get(key)
        if hit is not None and hit[0] is source:
            hit[2] -= 1
            if hit[2] == 0:
                del outputs[key]
            out: torch.Tensor = hit[1]
            return out
        computed = self._compute(index, x, source, args, kw)
        outputs[key] = [source, computed, self.sharers[0] - 1]
        return computed

    def _compute(
        self, index: int, x: torch.Tensor, source: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor:
        kind, tail = self._runners[index]
        if kind == "relu" and not args and not kw:
            return _sequence(tail, self._relu(source, x))
        if kind == "box" and not args and not kw:
            return _sequence(tail, box_average_3x3(x))
        out: torch.Tensor = self.candidates[self.names[index]](x, *args, **kw)
        return out

    def _relu(self, source: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shared = self.mode.shared
        if shared is None:
            return torch.relu(x)
        hit = shared.get(id(source))
        if hit is not None and hit[0] is source:
            return hit[1]
        value = torch.relu(x)
        shared[id(source)] = (source, value)
        return value

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        part = self._part(x)
        return self._finish(part, x, self._mixed(part, x, args, kwargs))

    def run_one(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Candidate ``name`` alone on ``x``, unscaled, with partial channels as in
        `forward`: the single path of a supernet that runs archs of its space's decisions
        rather than of its own (the darts space's slots over its per-edge op choices)."""
        part = self._part(x)
        return self._finish(part, x, self._run(self.names.index(name), part, x, (), {}))

    def _part(self, x: torch.Tensor) -> torch.Tensor:
        """The channels the candidates see: with partial channels, a dense copy of the
        first ``C/K`` (oneDNN's convolution backward corrupted memory on such a slice of a
        channels-last tensor when a strided 1x1 convolution of 2 channels took it: torch
        2.13, CPU)."""
        if not self.partial:
            return x
        part = x[:, : x.shape[1] // self.mode.partial_channels]
        if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return part.contiguous(memory_format=torch.channels_last)
        return part.contiguous()

    def _finish(
        self, part: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None
    ) -> torch.Tensor:
        """The candidates' output ``out`` (None: all zeros), and with partial channels the
        bypassed channels beside it, max-pooled 2x2 where the candidates halve the
        resolution (PC-DARTS's reduction edges), shuffled."""
        through = self._zeros(part) if out is None else out
        if not self.partial:
            return through
        rest = x[:, part.shape[1] :]
        if rest.shape[-2:] != through.shape[-2:]:
            rest = F.max_pool2d(rest, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([through, rest], dim=1), self.mode.partial_channels)

    def _zeros(self, part: torch.Tensor) -> torch.Tensor:
        for index, (kind, _) in enumerate(self._runners):
            if kind == "zero":
                zero: torch.Tensor = self.candidates[self.names[index]](part)
                return zero
        return torch.zeros_like(part)

    def _mixed(
        self, part: torch.Tensor, x: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor | None:
        mode = self.mode
        weights = None if mode.weights is None else mode.weights.get(self.label)
        if mode.path is not None and self.label in mode.path:
            index = mode.path[self.label]
            out = self._run(index, part, x, args, kw)
            if out is not None and weights is not None:
                out = weights[index] * out
            if weights is not None and mode.add_unselected:
                unselected = weights.sum() - weights[index]
                out = unselected.expand_as(part) if out is None else out + unselected
            return out
        if weights is None:
            raise SpaceError(f"supernet has no weights and no path for choice {self.label!r}")
        total: torch.Tensor | None = None
        for index in range(len(self.names)):
            out = self._run(index, part, x, args, kw)
            if out is not None:
                term = weights[index] * out
                total = term if total is None else total + term
        return total


Runner = tuple[str, tuple[nn.Module, ...]]


def _runner(module: nn.Module) -> Runner:
    """How `MixedModule` runs a candidate: "zero", "relu" (then the rest of a Sequential
    after its ReLU), "box" (3x3 average pooling as a box filter, then the rest of a
    Sequential that starts with it: DARTS's pool + BatchNorm in search) or "plain"."""
    if isinstance(module, Zero):
        return "zero", ()
    if isinstance(module, nn.Sequential) and len(module) > 0 and _is_box(module[0]):
        return "box", tuple(module)[1:]
    if (
        isinstance(module, nn.Sequential)
        and len(module) > 0
        and type(module[0]) is nn.ReLU
        and not module[0].inplace
    ):
        return "relu", tuple(module)[1:]
    if _is_box(module):
        return "box", ()
    return "plain", ()


def _is_box(module: nn.Module) -> bool:
    """``AvgPool2d(3, stride=1, padding=1, count_include_pad=False)``, which
    `box_average_3x3` computes faster."""
    return (
        type(module) is nn.AvgPool2d
        and module.kernel_size in (3, (3, 3))
        and module.stride in (1, (1, 1))
        and module.padding in (1, (1, 1))
        and not module.count_include_pad
        and not module.ceil_mode
        and module.divisor_override is None
    )


def _sequence(modules: tuple[nn.Module, ...], x: torch.Tensor) -> torch.Tensor:
    for module in modules:
        x = module(x)
    return x


def _replace_batchnorm(module: nn.Module, options: Mapping[str, bool]) -> None:
    """Rebuild the BatchNorm layers inside ``module`` with ``options`` (affine,
    track_running_stats), keeping their size, eps and momentum."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            wanted = {key: options.get(key, getattr(child, key)) for key in _BN_OPTIONS}
            if any(getattr(child, key) != value for key, value in wanted.items()):
                replaced = type(child)(
                    child.num_features, eps=child.eps, momentum=child.momentum, **wanted
                )
                setattr(module, name, replaced)
        else:
            _replace_batchnorm(child, options)


_BN_OPTIONS = ("affine", "track_running_stats")


def box_average_3x3(x: torch.Tensor) -> torch.Tensor:
    """``AvgPool2d(3, stride=1, padding=1, count_include_pad=False)`` computed as a
    depthwise convolution with a kernel of ones divided by the number of pixels each window
    covers: the same sums in the same order (bit-identical on the machines we tested), about
    3x faster on CPU, where average pooling is the slowest op of the DARTS supernet."""
    channels, (height, width) = x.shape[1], x.shape[-2:]
    ones = x.new_ones(channels, 1, 3, 3)
    counts = F.conv2d(x.new_ones(1, 1, height, width), ones[:1], padding=1)
    return F.conv2d(x, ones, padding=1, groups=channels) / counts


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` blocks of channels (ShuffleNet; PC-DARTS after a partial edge)."""
    n, c = x.shape[:2]
    return x.view(n, groups, c // groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)
