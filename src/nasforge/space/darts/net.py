"""The network of the NASNet/DARTS cell space, written from the DARTS paper's description of
its CIFAR-10 evaluation network (Liu et al., ICLR 2019, section 3 and A.2):

    stem: conv3x3 (3C channels) + BN
    `layers` cells; those at layers//3 and 2*layers//3 are reduction cells (2x channels,
    half the resolution); a cell takes the outputs of the two cells before it, each
    preprocessed to C channels (1x1 ReLU-conv-BN, or a factorized reduction after a
    reduction cell), and concatenates some of its intermediate nodes
    head: global average pooling, linear classifier; optionally an auxiliary head after
    the cell at 2*layers//3 (a training aid, not counted in `params` by `describe`)

Each intermediate node ``k`` of a child sums two slots; slot ``s`` takes one earlier state
(``in{s}``: 0 and 1 are the cell's inputs, ``j + 2`` node ``j``) through one op (``op{s}``).
The supernet (`DartsSpace.supernet`) is DARTS's search cell: every edge ``i -> k`` is one
op choice ``{cell}_node{k}_edge{i}`` over ``none`` and the ops (pooling followed by a
non-affine BatchNorm), node ``k`` the sum of its edges, preprocessing without affine
BatchNorm; `DartsSpace.derive` reads an arch off those choices' weights by DARTS's rule. On
the path of an arch (`ChoiceSuperNet.use_path`) each slot runs its op on its input's edge.
Every normal cell asks the same labels, as does every reduction cell, so the cells of one
type share their decisions, as in DARTS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nasforge.errors import ArchError
from nasforge.space.choices.inputs import ChosenInputs
from nasforge.space.choices.mixed import MixedModule
from nasforge.space.choices.primitives import Choices
from nasforge.space.darts.names import concat_nodes, edge_label, input_label, op_label
from nasforge.space.darts.ops import FactorizedReduce, ReLUConvBN, make_op


class DartsCell(nn.Module):
    def __init__(
        self,
        choices: Choices,
        cell: str,
        *,
        index: int = 0,
        nodes: int,
        ops: Sequence[str],
        concat: str,
        c_prev_prev: int,
        c_prev: int,
        channels: int,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        reduction = cell == "reduce"
        self.supernet = choices.mode == "supernet"
        affine = not self.supernet  # DARTS searches with affine=False preprocessing
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, channels, affine=affine)
            if reduction_prev
            else ReLUConvBN(c_prev_prev, channels, 1, 1, 0, affine=affine)
        )
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0, affine=affine)
        self.cell, self.nodes, self.ops = cell, nodes, tuple(ops)
        self.slot_inputs = nn.ModuleList()  # child: the chosen input of each slot
        self.slot_ops = nn.ModuleList()  # child: the op of each slot
        self.edges = nn.ModuleList()  # supernet: per node, one op choice per earlier state
        self.super_mode = choices.super_mode
        chosen: list[int] = []
        for node in range(nodes):
            if self.supernet:
                self.edges.append(
                    nn.ModuleList(
                        _edge_op(choices, cell, node, source, ops, channels, reduction)
                        for source in range(node + 2)
                    )
                )
                continue
            for slot in range(2):
                selector = choices.choose_inputs(input_label(cell, node, slot), node + 2)
                (source,) = _chosen(selector)
                chosen.append(source)
                self.slot_inputs.append(selector)
                self.slot_ops.append(
                    choices.choose_module(
                        op_label(cell, node, slot),
                        _candidates(ops, channels, 2 if reduction and source < 2 else 1),
                        inherits=(edge_label(cell, node, source), index),
                    )
                )
        self.concat = (
            tuple(range(2, nodes + 2)) if self.supernet else concat_nodes(concat, chosen, nodes)
        )
        self.multiplier = len(self.concat)
        self.drop_path_prob = 0.0

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(self.nodes):
            states.append(
                self._supernet_node(node, states) if self.supernet else self._node(node, states)
            )
        return torch.cat([states[i] for i in self.concat], dim=1)

    def _node(self, node: int, states: list[torch.Tensor]) -> torch.Tensor:
        total: torch.Tensor | None = None
        for slot in (2 * node, 2 * node + 1):
            (source,) = _chosen(self.slot_inputs[slot])
            op = self.slot_ops[slot]
            term = op(states[source])
            if self.training and self.drop_path_prob > 0 and not isinstance(op, nn.Identity):
                term = _drop_path(term, self.drop_path_prob)
            total = term if total is None else total + term
        assert total is not None
        return total

    def _supernet_node(self, node: int, states: list[torch.Tensor]) -> torch.Tensor:
        """The sum of the node's edges (each as the supernet's mode says: mixed, or one
        sampled op per edge as in GDAS), or on an arch's path the node's two slots, each
        its op on its input's edge."""
        edges = self.edges[node]
        assert isinstance(edges, nn.ModuleList) and self.super_mode is not None
        slots = [
            (
                self.super_mode.chosen(input_label(self.cell, node, slot)),
                self.super_mode.chosen(op_label(self.cell, node, slot)),
            )
            for slot in range(2)
        ]
        terms: list[torch.Tensor] = []
        if all(source is not None and op is not None for source, op in slots):
            for source, op in slots:
                assert source is not None and op is not None
                edge = edges[source]
                assert isinstance(edge, MixedModule)
                terms.append(edge.run_one(self.ops[op], states[source]))
        else:
            terms = [edge(states[source]) for source, edge in enumerate(edges)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total


class AuxiliaryHead(nn.Module):
    """The DARTS CIFAR auxiliary classifier, for 8x8 feature maps."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.classifier(self.features(x).flatten(1))
        return out


class DartsNetwork(nn.Module):
    """The DARTS evaluation network for the cells that `choices` answers."""

    def __init__(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        channels: int = 16,
        layers: int = 8,
        nodes: int = 4,
        ops: Sequence[str] = (),
        concat: str = "all",
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if channels < 2 or channels % 2 or layers < 1 or nodes < 1:
            raise ArchError(
                f"the darts network needs an even channels >= 2, layers >= 1 and nodes >= 1, "
                f"not channels={channels}, layers={layers}, nodes={nodes}"
            )
        stem = 3 * channels
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem)
        )
        c_prev_prev, c_prev, width = stem, stem, channels
        reduction_prev = False
        cells: list[DartsCell] = []
        self.auxiliary_after = 2 * layers // 3 if auxiliary else -1
        self.auxiliary_head: AuxiliaryHead | None = None
        for index in range(layers):
            reduction = index in (layers // 3, 2 * layers // 3)
            if reduction:
                width *= 2
            kind = "reduce" if reduction else "normal"
            cell = DartsCell(
                choices,
                kind,
                index=sum(c.cell == kind for c in cells),
                nodes=nodes,
                ops=ops,
                concat=concat,
                c_prev_prev=c_prev_prev,
                c_prev=c_prev,
                channels=width,
                reduction_prev=reduction_prev,
            )
            cell.drop_path_prob = drop_path_prob
            cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * width
            if index == self.auxiliary_after:
                self.auxiliary_head = AuxiliaryHead(c_prev, num_classes)
        self.cells = nn.ModuleList(cells)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.auxiliary_logits: torch.Tensor | None = None
        self.max_drop_path_prob = drop_path_prob

    def schedule_drop_path(self, progress: float) -> None:
        """Set every cell's drop-path rate to ``drop_path_prob * progress`` (the Trainer
        calls it with epoch / epochs at each epoch's start, as DARTS's training script)."""
        for cell in self.cells:
            assert isinstance(cell, DartsCell)
            cell.drop_path_prob = self.max_drop_path_prob * progress

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        self.auxiliary_logits = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if index == self.auxiliary_after and self.training and self.auxiliary_head:
                self.auxiliary_logits = self.auxiliary_head(s1)
        logits: torch.Tensor = self.classifier(self.pool(s1).flatten(1))
        return logits


def _chosen(selector: nn.Module) -> tuple[int, ...]:
    assert isinstance(selector, ChosenInputs)
    return selector.indices


def _edge_op(
    choices: Choices,
    cell: str,
    node: int,
    source: int,
    ops: Sequence[str],
    channels: int,
    reduction: bool,
) -> nn.Module:
    """The supernet's op choice on edge ``source -> node``: ``none`` and the ops (pools
    followed by a non-affine BatchNorm), built for PC-DARTS's partial channels; a reducing
    edge's bypass is max-pooled (`MixedModule`)."""
    stride = 2 if reduction and source < 2 else 1
    return choices.choose_module(
        edge_label(cell, node, source),
        _candidates(("none", *ops), choices.partial(channels), stride, search=True),
        partial=True,
    )


def _candidates(
    ops: Sequence[str], channels: int, stride: int, *, search: bool = False
) -> dict[str, Callable[[], nn.Module]]:
    def factory(name: str) -> Callable[[], nn.Module]:
        return lambda: make_op(name, channels, stride, search=search)

    return {name: factory(name) for name in ops}


def _drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole examples of a branch with probability `drop_prob`, rescaling the rest."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device).bernoulli_(keep)
    return x * mask / keep
