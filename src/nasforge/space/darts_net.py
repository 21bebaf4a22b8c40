"""The network of the NASNet/DARTS cell space, written from the DARTS paper's description of
its CIFAR-10 evaluation network (Liu et al., ICLR 2019, section 3 and A.2):

    stem: conv3x3 (3C channels) + BN
    `layers` cells; those at layers//3 and 2*layers//3 are reduction cells (2x channels,
    half the resolution); a cell takes the outputs of the two cells before it, each
    preprocessed to C channels (1x1 ReLU-conv-BN, or a factorized reduction after a
    reduction cell), and concatenates some of its intermediate nodes
    head: global average pooling, linear classifier; optionally an auxiliary head after
    the cell at 2*layers//3 (a training aid, not counted in `params` by `describe`)

Each intermediate node ``k`` sums two slots; slot ``s`` takes one earlier state (``in{s}``:
0 and 1 are the cell's inputs, ``j + 2`` node ``j``) through one op (``op{s}``). In a child
these are one chosen input and one op module. In the supernet (`DartsSpace.supernet`) every
candidate input of a slot has its own mixed op (with the stride that input needs) and the
slot is the weighted sum over inputs of those mixed ops: weights over inputs times weights
over ops, the edge normalization of PC-DARTS with the op weights shared by the slot's edges.
Every normal cell asks the same labels, as does every reduction cell, so the cells of one
type share their decisions, as in DARTS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nasforge.errors import ArchError
from nasforge.space.choices import Choices, ChosenInputs
from nasforge.space.darts_names import concat_nodes, input_label, op_label
from nasforge.space.darts_ops import FactorizedReduce, ReLUConvBN, make_op


class DartsCell(nn.Module):
    def __init__(
        self,
        choices: Choices,
        cell: str,
        *,
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
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, channels)
            if reduction_prev
            else ReLUConvBN(c_prev_prev, channels, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0)
        self.supernet = choices.mode == "supernet"
        self.slot_inputs = nn.ModuleList()
        self.slot_ops = nn.ModuleList()  # per slot: one op (child) or one per input (supernet)
        chosen: list[int] = []
        for node in range(nodes):
            for slot in range(2):
                selector = choices.choose_inputs(input_label(cell, node, slot), node + 2)
                sources = list(range(node + 2)) if self.supernet else list(_chosen(selector))
                chosen.extend(sources)
                self.slot_inputs.append(selector)
                label = op_label(cell, node, slot)
                if not self.supernet:  # the supernet's op for input i is its i-th of label
                    choices.skip_occurrences(label, sources[0])
                first = self.slot_ops[-1] if slot == 1 and self.supernet else None
                assert first is None or isinstance(first, nn.ModuleList)
                self.slot_ops.append(
                    nn.ModuleList(
                        _slot_op(
                            choices,
                            label,
                            ops,
                            channels,
                            2 if reduction and source < 2 else 1,
                            share=None if first is None else first[source],
                        )
                        for source in sources
                    )
                )
                if not self.supernet:
                    choices.skip_occurrences(label, node + 1 - sources[0])
        self.nodes = nodes
        self.concat = (
            tuple(range(2, nodes + 2)) if self.supernet else concat_nodes(concat, chosen, nodes)
        )
        self.multiplier = len(self.concat)
        self.drop_path_prob = 0.0

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(self.nodes):
            total: torch.Tensor | None = None
            for slot in (2 * node, 2 * node + 1):
                selector = self.slot_inputs[slot]
                ops = self.slot_ops[slot]
                assert isinstance(ops, nn.ModuleList)
                if self.supernet:
                    term = selector(_SlotTerms(ops, states))
                else:
                    (source,) = _chosen(selector)
                    term = ops[0](states[source])
                    if (
                        self.training
                        and self.drop_path_prob > 0
                        and not isinstance(ops[0], nn.Identity)
                    ):
                        term = _drop_path(term, self.drop_path_prob)
                total = term if total is None else total + term
            assert total is not None
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


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
            cell = DartsCell(
                choices,
                "reduce" if reduction else "normal",
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


class _SlotTerms(Sequence[torch.Tensor]):
    """A supernet slot's op on each candidate input, computed when the input choice asks
    for it: a single path (SPOS, GDAS, ENAS) runs the chosen input's op only."""

    def __init__(self, ops: nn.ModuleList, states: list[torch.Tensor]) -> None:
        self.ops, self.states = ops, states

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, index: int) -> torch.Tensor:  # type: ignore[override]
        out: torch.Tensor = self.ops[index](self.states[index])
        return out


def _slot_op(
    choices: Choices,
    label: str,
    ops: Sequence[str],
    channels: int,
    stride: int,
    share: nn.Module | None,
) -> nn.Module:
    """One op choice; PC-DARTS's partial channels apply to the ops that keep the resolution
    (a reducing op's bypass would need resizing). A supernet's second slot of a node shares
    the first slot's ops on each input (`share`): one op per edge, as in DARTS."""
    if stride == 1:
        return choices.choose_module(
            label, _candidates(ops, choices.partial(channels), 1), partial=True, share=share
        )
    return choices.choose_module(label, _candidates(ops, channels, stride), share=share)


def _candidates(
    ops: Sequence[str], channels: int, stride: int
) -> dict[str, Callable[[], nn.Module]]:
    def factory(name: str) -> Callable[[], nn.Module]:
        return lambda: make_op(name, channels, stride)

    return {name: factory(name) for name in ops}


def _drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole examples of a branch with probability `drop_prob`, rescaling the rest."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device).bernoulli_(keep)
    return x * mask / keep
