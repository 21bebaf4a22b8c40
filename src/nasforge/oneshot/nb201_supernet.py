"""The NAS-Bench-201 supernet: the NB201 network with all 5 candidate ops on every edge.

It is built from the blocks of `nasforge.space.nb201_net` (the same skeleton, `ReLUConvBN`,
`ResidualReduction`, `make_op`) and the space's `EDGES` and `OPS`, so the space is defined
once. As in NAS-Bench-201's DARTS and GDAS, one tensor of architecture weights, shape
``(6 edges, 5 ops)``, is shared by all cells; see `SuperNet` for the modes.

BatchNorm of the candidate ops is ``affine=False`` by default, as in the search cells of the
NB201 authors' code (``xautodl``'s ``NAS201SearchCell``); the stem, the residual reductions
and the head keep affine BatchNorm, as there. ``xautodl`` tracks running statistics for GDAS
(``--track_running_stats 1``) but not for DARTS (the flag is left unset): the one-shot
methods pass that choice. ``child`` copies what exists and sets a missing gamma to 1 and beta
to 0, so that with one-hot weights the supernet computes exactly what the child computes.

Speed: an edge's two convolutions share one ReLU of their input, computed once per node
(the same function as each op's own ReLU); average pooling runs as a depthwise convolution
(`box_average_3x3`); ``none`` is skipped (it adds zeros); in path mode only the chosen op
runs. ``partial_channels=K`` (PC-DARTS, Xu et al. 2020) sends the first ``C/K`` channels of
an edge's input through its ops and the rest around them, then shuffles the channels; its
ops then have ``C/K`` channels, so `child` cannot inherit them.

The module lives in ``oneshot/`` because everything in it (modes, mixing, partial channels,
weight inheritance) serves one-shot methods; `NB201Space.supernet` is a thin factory that
imports it lazily, as `NB201Space.build` imports the plain network.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Arch
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.supernet import NONE_OP, SuperNet, SuperNetMode
from nasforge.space.nb201 import EDGES, LABELS, NODES, OPS, NB201Space
from nasforge.space.nb201_net import (
    NB201Cell,
    NB201Network,
    NB201Skeleton,
    ReLUConvBN,
    make_op,
)


class NB201CandidateOps(nn.Module):
    """Every candidate op of one edge, by name (``none`` holds no module)."""

    def __init__(self, channels: int, *, affine: bool, track_running_stats: bool) -> None:
        super().__init__()
        modules: dict[str, nn.Module] = {}
        for name in OPS:
            module = make_op(name, channels, affine=affine, track_running_stats=track_running_stats)
            if module is not None:
                modules[name] = module
        self.ops = nn.ModuleDict(modules)

    def run(self, index: int, x: torch.Tensor, relu_x: _LazyReLU) -> torch.Tensor | None:
        """Op ``OPS[index]`` on ``x`` (``None`` for ``none``); convolutions reuse ``relu_x``."""
        name = OPS[index]
        if name == NONE_OP:
            return None
        op = self.ops[name]
        if isinstance(op, ReLUConvBN):  # ReLU, conv, BN: the ReLU is shared by the node
            out: torch.Tensor = op[2](op[1](relu_x.get()))
            return out
        if isinstance(op, nn.AvgPool2d):
            return box_average_3x3(x)
        result: torch.Tensor = op(x)
        return result

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor, relu_x: _LazyReLU | None = None
    ) -> torch.Tensor:
        """The mixed op: the sum of every op's output weighted by ``weights`` (one per op in
        `OPS` order; ``none`` adds zeros, so it is skipped)."""
        relu_x = _LazyReLU(x) if relu_x is None else relu_x
        total: torch.Tensor | None = None
        for index in range(len(OPS)):
            out = self.run(index, x, relu_x)
            if out is not None:
                term = weights[index] * out
                total = term if total is None else total + term
        assert total is not None  # only "none" holds no module
        return total


class _LazyReLU:
    """ReLU of a node, computed on first use and reused by every convolution on its edges."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self.value: torch.Tensor | None = None

    def get(self) -> torch.Tensor:
        if self.value is None:
            self.value = torch.relu(self.x)
        return self.value


class NB201SuperCell(nn.Module):
    """An NB201 cell whose 6 edges hold all candidate ops; runs in the supernet's mode."""

    def __init__(
        self,
        channels: int,
        mode: SuperNetMode,
        *,
        affine: bool,
        track_running_stats: bool,
        partial_channels: int,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.partial_channels = partial_channels
        self.width = channels // partial_channels
        self.edges = nn.ModuleList(
            NB201CandidateOps(self.width, affine=affine, track_running_stats=track_running_stats)
            for _ in EDGES
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        relus = [_LazyReLU(self._through(x))]
        for node in range(1, NODES + 1):
            total: torch.Tensor | None = None
            for edge, (source, target) in enumerate(EDGES):
                if target == node:
                    term = self._edge(edge, nodes[source], relus[source])
                    if term is not None:
                        total = term if total is None else total + term
            nodes.append(torch.zeros_like(x) if total is None else total)
            relus.append(_LazyReLU(self._through(nodes[-1])))
        return nodes[-1]

    def _through(self, x: torch.Tensor) -> torch.Tensor:
        """The channels that go through the ops (all of them unless partial)."""
        return x if self.partial_channels == 1 else x[:, : self.width]

    def _edge(self, edge: int, x: torch.Tensor, relu_x: _LazyReLU) -> torch.Tensor | None:
        """The output of one edge in the current mode; ``None`` stands for zeros."""
        candidates = cast(NB201CandidateOps, self.edges[edge])
        part = self._through(x)
        weights, path = self.mode.weights, self.mode.path
        out: torch.Tensor | None
        if path is not None:
            chosen = path[edge]
            out = candidates.run(chosen, part, relu_x)
            if out is not None and weights is not None:
                out = weights[edge, chosen] * out
            if weights is not None and self.mode.add_unselected:
                unselected = weights[edge].sum() - weights[edge, chosen]
                out = unselected.expand_as(part) if out is None else out + unselected
        else:
            assert weights is not None  # SuperNet keeps a mode with weights or a path
            out = candidates(part, weights[edge], relu_x)
        if self.partial_channels == 1:
            return out
        through = torch.zeros_like(part) if out is None else out
        mixed = torch.cat([through, x[:, self.width :]], dim=1)
        return channel_shuffle(mixed, self.partial_channels)


def box_average_3x3(x: torch.Tensor) -> torch.Tensor:
    """``AvgPool2d(3, stride=1, padding=1, count_include_pad=False)`` of NB201's
    ``avg_pool_3x3``, computed as a depthwise convolution with a kernel of ones divided by
    the number of pixels each window covers: the same sums in the same order (bit-identical
    on the machines we tested), about 3x faster on CPU, where average pooling is the slowest
    op of the DARTS supernet."""
    channels, (height, width) = x.shape[1], x.shape[-2:]
    ones = x.new_ones(channels, 1, 3, 3)
    counts = F.conv2d(x.new_ones(1, 1, height, width), ones[:1], padding=1)
    return F.conv2d(x, ones, padding=1, groups=channels) / counts


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` blocks of channels (ShuffleNet; PC-DARTS after a partial edge)."""
    n, c = x.shape[:2]
    return x.view(n, groups, c // groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


class NB201SuperNet(SuperNet):
    """The NB201 network with every edge of every cell holding all 5 ops (see `SuperNet`)."""

    def __init__(
        self,
        *,
        channels: int = 16,
        cells_per_stage: int = 5,
        in_channels: int = 3,
        num_classes: int = 10,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> None:
        if partial_channels < 1 or channels % partial_channels:
            raise OneShotError(
                f"partial_channels must be >= 1 and divide channels={channels}, "
                f"not {partial_channels}"
            )
        super().__init__(LABELS, OPS)
        self.config = {
            "channels": channels,
            "cells_per_stage": cells_per_stage,
            "in_channels": in_channels,
            "num_classes": num_classes,
        }
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.partial_channels = partial_channels
        mode = self.mode
        self.net = NB201Skeleton(
            lambda width: NB201SuperCell(
                width,
                mode,
                affine=affine,
                track_running_stats=track_running_stats,
                partial_channels=partial_channels,
            ),
            channels=channels,
            cells_per_stage=cells_per_stage,
            in_channels=in_channels,
            num_classes=num_classes,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out

    def super_cells(self) -> Iterator[NB201SuperCell]:
        for block in self.net.cells:
            if isinstance(block, NB201SuperCell):
                yield block

    def child(self, arch: Arch) -> NB201Network:
        """The NB201 network of ``arch`` with inherited weights (stem, reductions, head and
        the chosen op of every edge); a BatchNorm without affine parameters gives gamma 1,
        beta 0, and one without running statistics leaves the child's fresh ones."""
        if self.partial_channels > 1:
            raise OneShotError(
                f"a supernet with partial_channels={self.partial_channels} has ops of "
                f"1/{self.partial_channels} of the channels, so a child cannot inherit them; "
                "train space.build(arch) from scratch"
            )
        ops = NB201Space().ops(arch)
        parameter = next(self.parameters())
        child = NB201Network(ops, **self.config).to(parameter.device, parameter.dtype)
        with torch.no_grad():
            for name in ("stem", "head", "classifier"):
                getattr(child, name).load_state_dict(getattr(self.net, name).state_dict())
            for source, target in zip(self.net.cells, child.cells, strict=True):
                if not isinstance(source, NB201SuperCell):
                    target.load_state_dict(source.state_dict())
                    continue
                kept = (e for e, name in enumerate(ops) if name != NONE_OP)
                for edge, module in zip(kept, cast(NB201Cell, target).edges, strict=True):
                    candidates = cast(NB201CandidateOps, source.edges[edge])
                    _inherit(candidates.ops[ops[edge]], module)
        return child


def _inherit(source: nn.Module, target: nn.Module) -> None:
    """Copy the parameters and buffers ``source`` has into ``target`` (same architecture up to
    BatchNorm options); affine parameters ``source`` lacks become gamma 1, beta 0."""
    for src, dst in zip(source.modules(), target.modules(), strict=True):
        if isinstance(dst, nn.BatchNorm2d) and isinstance(src, nn.BatchNorm2d):
            if dst.affine:
                assert dst.weight is not None and dst.bias is not None
                if src.affine:
                    assert src.weight is not None and src.bias is not None
                    dst.weight.copy_(src.weight)
                    dst.bias.copy_(src.bias)
                else:
                    dst.weight.fill_(1.0)
                    dst.bias.fill_(0.0)
            if src.track_running_stats and dst.track_running_stats:
                for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                    getattr(dst, buffer).copy_(getattr(src, buffer))
        elif isinstance(dst, nn.Conv2d) and isinstance(src, nn.Conv2d):
            dst.weight.copy_(src.weight)
