"""The NAS-Bench-201 network (Dong and Yang, ICLR 2020), written from the paper's description.

Layout (``C`` = ``channels``, ``N`` = ``cells_per_stage``)::

    stem: conv3x3(in_channels -> C) + BN
    stage 1: N cells at C channels
    residual reduction C -> 2C (stride 2)
    stage 2: N cells at 2C channels
    residual reduction 2C -> 4C (stride 2)
    stage 3: N cells at 4C channels
    head: BN + ReLU, global average pool, linear classifier

Every cell of the network has the same 6 ops. With the default settings the parameter
count matches the ``params`` column of the NAS-Bench-201 tables exactly: every BatchNorm
is affine, convolutions have no bias, the classifier has one.

The network is defined once, with labelled choices (`nasforge.space.choices`): each edge asks
``choices.choose_module(label, {op: factory})`` with the same 6 labels in every cell, so the
cells share one decision per edge. ``NB201Network(ops)`` answers them with the 6 ops (the
plain child: ``none`` edges hold no module); `NB201Space.supernet` runs the same class in
supernet mode (`nasforge.space.choices.supernet.ChoiceSuperNet`), where each edge holds all 5
candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nasforge.errors import ArchError
from nasforge.space.choices.mixed import Zero
from nasforge.space.choices.primitives import Choices
from nasforge.space.nb201.space import EDGES, LABELS, NODES, OPS

# -- building blocks -----------------------------------------------------------------


class ReLUConvBN(nn.Sequential):
    """ReLU, then a bias-free ``kernel_size`` convolution ("same" padding), then BatchNorm.

    ``affine`` and ``track_running_stats`` configure the BatchNorm (supernets of one-shot
    methods use ``affine=False``, as the NAS-Bench-201 search code does).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        stride: int = 1,
        *,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
            ),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )


def make_op(
    name: str, channels: int, *, affine: bool = True, track_running_stats: bool = True
) -> nn.Module | None:
    """The module of one cell edge; ``None`` for ``"none"`` (the edge contributes zero).

    ``affine`` and ``track_running_stats`` configure the BatchNorm of the convolutions.
    """
    bn = {"affine": affine, "track_running_stats": track_running_stats}
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, **bn)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, **bn)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ArchError(f"unknown NB201 op {name!r}; expected one of {', '.join(OPS)}")


class NB201Cell(nn.Module):
    """A 4-node DAG: node 0 is the input, node ``j`` sums its incoming edges, node 3 is output.

    ``ops`` are the 6 op names, or the `Choices` of a space (each edge asks its label).
    ``none`` edges hold no module and are skipped; a node with no other input is zeros.
    """

    def __init__(self, ops: Sequence[str] | Choices, channels: int) -> None:
        super().__init__()
        choices = _choices(ops)
        width = choices.partial(channels)
        self.wiring: list[tuple[int, int]] = []
        modules: list[nn.Module] = []
        for (source, target), label in zip(EDGES, LABELS, strict=True):
            module = choices.choose_module(label, _candidates(width), partial=True)
            if not isinstance(module, Zero):
                self.wiring.append((source, target))
                modules.append(module)
        self.edges = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NODES + 1):
            total: torch.Tensor | None = None
            for (source, target), edge in zip(self.wiring, self.edges, strict=True):
                if target == node:
                    term: torch.Tensor = edge(nodes[source])
                    total = term if total is None else total + term
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


def _candidates(channels: int) -> dict[str, Callable[[], nn.Module]]:
    def factory(name: str) -> Callable[[], nn.Module]:
        return lambda: make_op(name, channels) or Zero()

    return {name: factory(name) for name in OPS}


def _choices(ops: Sequence[str] | Choices) -> Choices:
    """``ops`` as choices: a `Choices` unchanged, 6 op names as a child's answers."""
    if isinstance(ops, Choices):
        return ops
    ops = tuple(ops)
    if len(ops) != len(EDGES):
        raise ArchError(f"an NB201 cell needs {len(EDGES)} ops, got {len(ops)}")
    unknown = [name for name in ops if name not in OPS]
    if unknown:
        raise ArchError(f"unknown NB201 op {unknown[0]!r}; expected one of {', '.join(OPS)}")
    answers = dict(zip(LABELS, ops, strict=True))
    return Choices("child", policy=lambda decision: answers[decision.label])


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2; the shortcut is 2x2 average pooling + 1x1 conv.

    The shortcut pool uses ``ceil_mode`` so odd sizes (7x7 -> 4x4) agree with the strided
    3x3 conv; on even sizes it is the plain 2x2 pool of NAS-Bench-201.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.shortcut(x) + self.conv_b(self.conv_a(x))
        return out


# -- the network -----------------------------------------------------------------------


class NB201Skeleton(nn.Module):
    """The NAS-Bench-201 layout around the cells: stem, 3 stages, reductions, head.

    ``make_cell(width)`` builds each cell: `NB201Network` passes `NB201Cell`, plain in a
    child, holding every candidate op on each edge in the supernet.
    """

    def __init__(
        self,
        make_cell: Callable[[int], nn.Module],
        *,
        channels: int,
        cells_per_stage: int,
        in_channels: int,
        num_classes: int,
    ) -> None:
        for name, value in (
            ("channels", channels),
            ("cells_per_stage", cells_per_stage),
            ("in_channels", in_channels),
            ("num_classes", num_classes),
        ):
            if value < 1:
                raise ArchError(f"NB201 network needs {name} >= 1, got {value}")
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        blocks: list[nn.Module] = []
        width = channels
        for stage in range(3):
            if stage > 0:
                blocks.append(ResidualReduction(width, 2 * width))
                width *= 2
            blocks.extend(make_cell(width) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(self.cells(self.stem(x)))
        logits: torch.Tensor = self.classifier(self.pool(features).flatten(1))
        return logits


class NB201Network(NB201Skeleton):
    """The NAS-Bench-201 image classifier for one cell: ``ops`` are its 6 ops (in NB201-string
    edge order) or the `Choices` of `NB201Space` (a child or the supernet)."""

    def __init__(
        self,
        ops: Sequence[str] | Choices,
        *,
        channels: int = 16,
        cells_per_stage: int = 5,
        in_channels: int = 3,
        num_classes: int = 10,
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        choices = _choices(ops)
        super().__init__(
            lambda width: NB201Cell(choices, width),
            channels=channels,
            cells_per_stage=cells_per_stage,
            in_channels=in_channels if input_shape is None else input_shape[0],
            num_classes=num_classes,
        )
        chosen = choices.run_.chosen
        self.ops: tuple[str, ...] | None = (
            tuple(str(chosen[label]) for label in LABELS) if choices.mode == "child" else None
        )
