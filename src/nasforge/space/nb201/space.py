"""The NAS-Bench-201 cell space (Dong and Yang, ICLR 2020).

A cell is a DAG of 4 nodes; each of the 6 edges ``i -> j`` (``i < j``) carries one of 5 ops.
Node ``j`` sums the ops on its incoming edges. The NB201 text form lists, per node,
``op~i`` for every input ``i``::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.cell_paths import path_features, path_summaries
from nasforge.space.picture import ArchPicture, CellEdge, CellPicture

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace
    from nasforge.space.choices.supernet import ChoiceSuperNet

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NODES = 3
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for j in range(1, NODES + 1) for i in range(j))
"""The 6 edges ``(from_node, to_node)`` in the order of the NB201 string."""

LABELS: tuple[str, ...] = tuple(f"node{j}_in{i}" for i, j in EDGES)
_EXPECTED_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


class NB201Space(SearchSpace):
    """NAS-Bench-201: 6 edges x 5 ops = 15,625 cells (6,466 distinct functions)."""

    name = "nb201"

    def __init__(self, channels: int = 16, cells_per_stage: int = 5) -> None:
        if channels < 1 or cells_per_stage < 1:
            raise SpaceError("nb201 needs channels >= 1 and cells_per_stage >= 1")
        self.channels = channels
        self.cells_per_stage = cells_per_stage
        self._decisions = tuple(Decision(label, OPS) for label in LABELS)
        self._choice_space: ChoiceSpace | None = None

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "cells_per_stage": self.cells_per_stage}

    # -- NB201 string ------------------------------------------------------------
    def parse(self, text: str) -> Arch:
        """Read either the NB201 string or the Arch text form."""
        stripped = text.strip()
        if stripped.startswith("|"):
            return self.from_nb201_string(stripped)
        return super().parse(stripped)

    def format(self, arch: Arch) -> str:
        return self.to_nb201_string(arch)

    def from_nb201_string(self, text: str) -> Arch:
        return Arch(dict(zip(LABELS, parse_nb201_ops(text), strict=True)))

    def to_nb201_string(self, arch: Arch) -> str:
        ops = self.ops(arch)
        nodes = []
        for j in range(1, NODES + 1):
            entries = [f"{ops[k]}~{i}" for k, (i, to) in enumerate(EDGES) if to == j]
            nodes.append("|" + "|".join(entries) + "|")
        return "+".join(nodes)

    def ops(self, arch: Arch) -> tuple[str, ...]:
        """The 6 op names of `arch`, in NB201 string order."""
        arch = self.validate(arch)
        return tuple(str(arch[label]) for label in LABELS)

    def pictures(self, arch: Arch) -> tuple[ArchPicture, ...]:
        """The cell as a DAG: input ``in``, nodes ``node1``, ``node2``, output ``out``; edges
        with ``none`` left out."""
        names = ("in", "node1", "node2", "out")
        edges = tuple(
            CellEdge(names[i], names[j], op)
            for (i, j), op in zip(EDGES, self.ops(arch), strict=True)
            if op != "none"
        )
        return (CellPicture("cell", names, edges),)

    # -- equivalence -------------------------------------------------------------
    def structure_features(self, arch: Arch) -> dict[str, float]:
        return path_features(
            self.ops(arch),
            EDGES,
            NODES,
            choices=OPS,
            parametric=("nor_conv_1x1", "nor_conv_3x3"),
            strongest="nor_conv_3x3",
        )

    def structure_summaries(self) -> tuple[str, ...]:
        return path_summaries("nor_conv_3x3")

    def canonical(self, arch: Arch) -> Arch:
        """The first arch (in grid order over OPS) that computes the same cell function."""
        key = cell_function_key(self.ops(arch))
        return Arch(dict(zip(LABELS, _representatives()[key], strict=True)))

    # -- building ----------------------------------------------------------------
    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        """The NB201 network: stem, 3 stages of cells (C, 2C, 4C), residual reductions."""
        from nasforge.space.nb201.net import NB201Network

        self.check_input(input_shape)
        return NB201Network(
            self.ops(arch),
            channels=self.channels,
            cells_per_stage=self.cells_per_stage,
            in_channels=input_shape[0],
            num_classes=num_classes,
        )

    # -- one-shot ----------------------------------------------------------------
    def op_decisions(self) -> tuple[Decision, ...]:
        """All 6 decisions: each edge chooses one of the 5 ops."""
        return self._decisions

    def supernet(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> ChoiceSuperNet:
        """The generic supernet (`ChoiceSuperNet`) of the NB201 network's labelled choices:
        every edge holds all 5 ops, one decision per edge shared by all cells. Candidate
        BatchNorm is ``affine=False`` by default, as in the search cells of the NB201
        authors' code; the stem, reductions and head keep affine BatchNorm."""
        from nasforge.space.choices.supernet import supernet_with_channels

        self.check_input(input_shape)
        return supernet_with_channels(
            self.choice_space(),
            self.channels,
            input_shape,
            num_classes,
            affine=affine,
            track_running_stats=track_running_stats,
            partial_channels=partial_channels,
        )

    def choice_space(self) -> ChoiceSpace:
        """The NB201 network as a `ChoiceSpace` (the same decisions; built once)."""
        if self._choice_space is None:
            from nasforge.space.choices.space import ChoiceSpace
            from nasforge.space.nb201.net import NB201Network

            space = ChoiceSpace(
                NB201Network, channels=self.channels, cells_per_stage=self.cells_per_stage
            )
            assert [(d.label, d.choices) for d in space.decisions] == [
                (d.label, d.choices) for d in self._decisions
            ]
            self._choice_space = space
        return self._choice_space

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 3 or min(input_shape[1:]) < 4:
            raise SpaceError(
                f"space 'nb201' needs images (channels, height, width) of at least 4x4, "
                f"not input shape {input_shape}"
            )


def parse_nb201_ops(text: str) -> tuple[str, ...]:
    """The 6 ops of an NB201 string, checked for form, node inputs and op names."""
    nodes = text.strip().split("+")
    if len(nodes) != NODES:
        raise ArchError(f"malformed NB201 arch string {text!r}: expected {_EXPECTED_FORM}")
    ops: list[str] = []
    for j, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|") and len(node) > 2):
            raise ArchError(f"malformed NB201 arch string {text!r}: expected {_EXPECTED_FORM}")
        entries = node[1:-1].split("|")
        if len(entries) != j:
            raise ArchError(
                f"malformed NB201 arch string {text!r}: node {j} needs {j} inputs, "
                f"found {len(entries)}"
            )
        for i, entry in enumerate(entries):
            op, sep, source = entry.partition("~")
            if not sep or source != str(i):
                raise ArchError(
                    f"malformed NB201 arch string {text!r}: entry {entry!r} of node {j} "
                    f"should read op~{i}"
                )
            if op not in OPS:
                raise ArchError(
                    f"unknown op {op!r} in NB201 arch string; expected one of {', '.join(OPS)}"
                )
            ops.append(op)
    return tuple(ops)


def cell_function_key(ops: Sequence[str]) -> str:
    """A string equal for two cells exactly when NAS-Bench-201 deems them isomorphic.

    The convention of the benchmark's own ``get_unique_str``: ``skip_connect`` is the
    identity, ``none`` is zero, an op applied to a zero node is zero, a node's sum is
    order-free, and a zero term still counts as a term (so a node summing two zeros is
    not itself treated as zero).
    """
    zero = "#"
    node_keys = ["0"]
    for j in range(1, NODES + 1):
        terms = []
        for k, (i, to) in enumerate(EDGES):
            if to != j:
                continue
            source, op = node_keys[i], ops[k]
            if op == "none" or source == zero:
                terms.append(zero)
            elif op == "skip_connect":
                terms.append(source)
            else:
                terms.append(f"({source})@{op}")
        node_keys.append("+".join(sorted(terms)))
    return node_keys[-1]


@functools.lru_cache(maxsize=1)
def _representatives() -> dict[str, tuple[str, ...]]:
    """Cell-function key -> its first cell in grid order (a pure function, computed once)."""
    first: dict[str, tuple[str, ...]] = {}
    for ops in itertools.product(OPS, repeat=len(EDGES)):
        first.setdefault(cell_function_key(ops), ops)
    return first
