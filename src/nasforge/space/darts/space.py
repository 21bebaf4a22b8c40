"""The NASNet/DARTS cell space (Zoph et al. 2018; Liu et al., ICLR 2019).

A network of `layers` cells of two types, normal and reduction; every cell of a type has the
same structure. A cell has `nodes` intermediate nodes (4 in DARTS, 5 in NASNet); node ``k``
sums two slots, each one earlier state through one op. The decisions, per cell type, node
and slot: ``{cell}_node{k}_in{s}`` (0 and 1 are the cell's two inputs, ``j + 2`` node ``j``)
and ``{cell}_node{k}_op{s}``. Any DARTS genotype is an arch of this space and back
(`nasforge.space.darts.genotype`); two slots of a node are unordered (`canonical`).

Options: ``channels`` (C, 16), ``layers`` (8), ``nodes`` (4), ``ops`` (``darts``: the seven
DARTS primitives besides ``none``; ``nasnet`` adds ``sep_conv_7x7`` and ``conv_7x1_1x7``),
``concat`` (``all`` intermediate nodes, as DARTS; ``loose``: those no node takes as input,
as NASNet), ``auxiliary`` (an auxiliary head, excluded from ``params``),
``drop_path_prob`` (for training), and ``distinct_inputs`` (every node takes two different
inputs, as in NAS-Bench-301: sampling, mutation and crossover move a repeated input).

``none`` is not a choice of a slot: DARTS's search includes it on every edge but its
derivation never keeps it, and every published cell has two real inputs per node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.darts.derive import derive_choices
from nasforge.space.darts.genotype import PUBLISHED, Genotype, parse_genotype
from nasforge.space.darts.names import (
    CELL_TYPES,
    NASNET_OPS,
    PARAMETER_FREE,
    SEARCH_OPS,
    concat_nodes,
    input_label,
    op_label,
)
from nasforge.space.picture import ArchPicture, CellEdge, CellPicture

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace
    from nasforge.space.choices.supernet import ChoiceSuperNet

OP_SETS: dict[str, tuple[str, ...]] = {"darts": SEARCH_OPS, "nasnet": NASNET_OPS}
CONCAT_RULES = ("all", "loose")
NAMED_OPTIONS: dict[str, dict[str, Any]] = {
    "NASNet": {"nodes": 5, "ops": "nasnet", "concat": "loose"},
    "AmoebaNet": {"nodes": 5, "ops": "nasnet", "concat": "loose"},
    "ENAS": {"nodes": 5},
}
"""Space options a published cell needs beyond the defaults."""


class DartsSpace(SearchSpace):
    """NASNet/DARTS cells: a normal and a reduction cell of `nodes` nodes, two slots each."""

    name = "darts"

    def __init__(
        self,
        channels: int = 16,
        layers: int = 8,
        nodes: int = 4,
        ops: str = "darts",
        concat: str = "all",
        auxiliary: bool = False,
        drop_path_prob: float = 0.0,
        distinct_inputs: bool = False,
    ) -> None:
        if channels < 2 or channels % 2:
            raise SpaceError(f"darts needs an even channels >= 2, not {channels}")
        if layers < 3:
            raise SpaceError(f"darts needs layers >= 3 (two are reduction cells), not {layers}")
        if not 1 <= nodes <= 8:
            raise SpaceError(f"darts needs 1 <= nodes <= 8, not {nodes}")
        if ops not in OP_SETS:
            raise SpaceError(f"unknown op set {ops!r} for darts; choose from {', '.join(OP_SETS)}")
        if concat not in CONCAT_RULES:
            raise SpaceError(f"concat must be one of {', '.join(CONCAT_RULES)}, not {concat!r}")
        if not 0.0 <= drop_path_prob < 1.0:
            raise SpaceError(f"drop_path_prob must be in [0, 1), not {drop_path_prob}")
        self.channels, self.layers, self.nodes = channels, layers, nodes
        self.ops_name, self.concat, self.auxiliary = ops, concat, bool(auxiliary)
        self.drop_path_prob = float(drop_path_prob)
        self.distinct_inputs = bool(distinct_inputs)
        self.ops = OP_SETS[ops]
        self._decisions = tuple(
            decision
            for cell in CELL_TYPES
            for node in range(nodes)
            for slot in range(2)
            for decision in (
                Decision(input_label(cell, node, slot), tuple(range(node + 2))),
                Decision(op_label(cell, node, slot), self.ops),
            )
        )
        self._choice_space: ChoiceSpace | None = None

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "layers": self.layers,
            "nodes": self.nodes,
            "ops": self.ops_name,
            "concat": self.concat,
            "auxiliary": self.auxiliary,
            "drop_path_prob": self.drop_path_prob,
            **({"distinct_inputs": True} if self.distinct_inputs else {}),
        }

    # -- distinct inputs (NAS-Bench-301's cells) --------------------------------------------
    def _repeated(self, arch: Arch) -> list[tuple[str, int]]:
        """The (cell, node) pairs whose two slots take the same input."""
        return [
            (cell, node)
            for cell in CELL_TYPES
            for node in range(self.nodes)
            if arch.get(input_label(cell, node, 0)) == arch.get(input_label(cell, node, 1))
        ]

    def _distinct(self, arch: Arch, rng: np.random.Generator | None = None) -> Arch:
        """With ``distinct_inputs``: `arch` with the second slot of every node that repeats
        its first slot's input moved to another input (a random one with `rng`, else the
        lowest)."""
        if not self.distinct_inputs:
            return arch
        changes: dict[str, Any] = {}
        for cell, node in self._repeated(arch):
            taken = int(arch[input_label(cell, node, 0)])
            others = [i for i in range(node + 2) if i != taken]
            pick = others[int(rng.integers(len(others)))] if rng is not None else others[0]
            changes[input_label(cell, node, 1)] = pick
        return arch.replace(**changes) if changes else arch

    def validate(self, arch: Arch) -> Arch:
        arch = super().validate(arch)
        if self.distinct_inputs:
            for cell, node in self._repeated(arch)[:1]:
                raise ArchError(
                    f"node {node} of the {cell} cell takes input "
                    f"{arch[input_label(cell, node, 0)]} twice, and this darts space "
                    "(distinct_inputs, as NAS-Bench-301) needs two different inputs per node"
                )
        return arch

    def size(self) -> int:
        if not self.distinct_inputs:
            return super().size()
        per_cell = 1
        for node in range(self.nodes):
            per_cell *= (node + 2) * (node + 1) * len(self.ops) ** 2
        return int(per_cell ** len(CELL_TYPES))

    def sample(self, rng: np.random.Generator) -> Arch:
        return self._distinct(super().sample(rng), rng)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        return self._distinct(super().mutate(arch, rng), rng)

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        return self._distinct(super().crossover(first, second, rng), rng)

    def neighbors(self, arch: Arch) -> list[Arch]:
        found = super().neighbors(arch)
        return [n for n in found if not self._repeated(n)] if self.distinct_inputs else found

    def enumerate(self) -> Iterator[Arch]:
        return (arch for arch in super().enumerate() if not self._distinct_fails(arch))

    def _distinct_fails(self, arch: Arch) -> bool:
        return self.distinct_inputs and bool(self._repeated(arch))

    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        labels = [d.label for d in self.decisions]
        chosen = Arch({label: assignment[label] for label in labels if label in assignment})
        return self.validate(self._distinct(chosen))

    def sample_with(self, answer: Callable[[Decision], Choice]) -> Arch:
        return self.validate(self._distinct(Arch({d.label: answer(d) for d in self.decisions})))

    # -- genotypes -----------------------------------------------------------------------
    def named_architectures(self) -> Mapping[str, Arch]:
        """The published cells that are points of this space (with these options)."""
        named = {}
        for name, genotype in PUBLISHED.items():
            if self._fits(name):
                try:
                    named[name] = self.from_genotype(genotype)
                except ArchError:  # a repeated input, with distinct_inputs
                    continue
        return named

    def named_space_options(self, name: str) -> Mapping[str, Any] | None:
        return dict(NAMED_OPTIONS[name]) if name in NAMED_OPTIONS else None

    def _fits(self, name: str) -> bool:
        needed = {"nodes": 4, "ops": "darts", "concat": "all", **NAMED_OPTIONS.get(name, {})}
        have = {"nodes": self.nodes, "ops": self.ops_name, "concat": self.concat}
        if needed["ops"] == "darts" and have["ops"] == "nasnet":
            needed["ops"] = "nasnet"  # the larger op set holds the DARTS ops
        return needed == have

    def parse(self, text: str) -> Arch:
        """A genotype (``Genotype(normal=[...], ...)``), a published name (``DARTS_V2``), or
        the Arch text form."""
        stripped = text.strip()
        if stripped in PUBLISHED and not self._fits(stripped):
            options = " ".join(f"-s {k}={v}" for k, v in NAMED_OPTIONS[stripped].items())
            raise ArchError(
                f"{stripped} is a cell of the darts space with other options: add {options}"
            )
        if stripped.startswith("Genotype("):
            return self.from_genotype(parse_genotype(stripped))
        return super().parse(stripped)

    def format(self, arch: Arch) -> str:
        return str(self.to_genotype(arch))

    def from_genotype(self, genotype: Genotype) -> Arch:
        """The arch of `genotype`; refused if it is not a cell pair of this space."""
        choices: dict[str, Any] = {}
        for cell, pairs, concat in (
            ("normal", genotype.normal, genotype.normal_concat),
            ("reduce", genotype.reduce, genotype.reduce_concat),
        ):
            if len(pairs) != 2 * self.nodes:
                raise ArchError(
                    f"genotype {cell} cell has {len(pairs)} entries; this darts space has "
                    f"{self.nodes} nodes of 2 (-s nodes=N for another count)"
                )
            for index, (op, source) in enumerate(pairs):
                node, slot = divmod(index, 2)
                if op not in self.ops:
                    extra = " (-s ops=nasnet adds NASNet's ops)" if op in NASNET_OPS else ""
                    raise ArchError(
                        f"genotype {cell} cell: op {op!r} is not one of this space's ops "
                        f"{', '.join(self.ops)}{extra}"
                    )
                if not 0 <= source < node + 2:
                    raise ArchError(
                        f"genotype {cell} cell: node {node + 2} takes input {source}, but only "
                        f"0..{node + 1} come before it"
                    )
                choices[input_label(cell, node, slot)] = source
                choices[op_label(cell, node, slot)] = op
            expected = concat_nodes(self.concat, [source for _, source in pairs], self.nodes)
            if tuple(sorted(concat)) != expected:
                raise ArchError(
                    f"genotype {cell}_concat {list(concat)} is not what this space concatenates "
                    f"({self.concat}: {list(expected)}); -s concat=all or -s concat=loose"
                )
        return self.validate(Arch(choices))

    def to_genotype(self, arch: Arch) -> Genotype:
        arch = self.validate(arch)
        cells = {}
        for cell in CELL_TYPES:
            pairs = tuple(
                (str(arch[op_label(cell, node, slot)]), int(arch[input_label(cell, node, slot)]))
                for node in range(self.nodes)
                for slot in range(2)
            )
            cells[cell] = (pairs, concat_nodes(self.concat, [s for _, s in pairs], self.nodes))
        return Genotype(
            normal=cells["normal"][0],
            normal_concat=cells["normal"][1],
            reduce=cells["reduce"][0],
            reduce_concat=cells["reduce"][1],
        )

    def canonical(self, arch: Arch) -> Arch:
        """The two slots of every node in order (input, then op): a node's inputs are
        unordered, so swapping its slots computes the same cell."""
        arch = self.validate(arch)
        choices = dict(arch)
        for cell in CELL_TYPES:
            for node in range(self.nodes):
                slots = sorted(
                    (
                        int(arch[input_label(cell, node, s)]),
                        self.ops.index(str(arch[op_label(cell, node, s)])),
                    )
                    for s in range(2)
                )
                for s, (source, op) in enumerate(slots):
                    choices[input_label(cell, node, s)] = source
                    choices[op_label(cell, node, s)] = self.ops[op]
        return Arch(choices)

    def pictures(self, arch: Arch) -> tuple[ArchPicture, ...]:
        genotype = self.to_genotype(arch)
        pictures = []
        for cell, pairs, concat in (
            ("normal", genotype.normal, genotype.normal_concat),
            ("reduce", genotype.reduce, genotype.reduce_concat),
        ):
            names = ["c_{k-2}", "c_{k-1}", *(f"node{k}" for k in range(self.nodes)), "out"]
            edges = [
                CellEdge(names[source], names[2 + index // 2], op)
                for index, (op, source) in enumerate(pairs)
            ]
            edges += [CellEdge(names[state], "out", "concat") for state in concat]
            pictures.append(CellPicture(f"{cell} cell", tuple(names), tuple(edges)))
        return tuple(pictures)

    def edge_choices(self) -> tuple[str, ...]:
        """The candidates of each edge of the supernet: ``none``, then the ops (DARTS's
        ``PRIMITIVES`` order)."""
        return ("none", *self.ops)

    def derive(self, weights: Mapping[str, Sequence[float]]) -> Arch | None:
        """The cell a gradient method found. On the supernet's weights (one vector over
        ``none`` and the ops per edge, ``{cell}_node{k}_edge{i}``), DARTS's rule
        (``Network.genotype`` in quark0/darts): each node keeps the two edges whose
        strongest op other than ``none`` is strongest (ties: the earlier input), each with
        that op; slot 0 takes the stronger edge. On weights of the arch's own decisions
        (ENAS's marginals), the same rule with the weight of op ``o`` on input ``i`` taken
        as the sum over slots of ``P(in_s = i) P(op_s = o)``. None for other weights."""
        labels = [d.label for d in self._decisions]
        choices = derive_choices(weights, self.ops, self.nodes, labels)
        return None if choices is None else self.validate(Arch(choices))

    def skip_and_parameter_free_share(self, arch: Arch) -> tuple[float, float]:
        """Shares of the slots (both cells) that are ``skip_connect``, and that have no
        weights (pooling and skip): what DARTS's collapse looks like."""
        ops = [str(arch[d.label]) for d in self._decisions if d.label.rsplit("_", 1)[1][:2] == "op"]
        return (
            sum(op == "skip_connect" for op in ops) / len(ops),
            sum(op in PARAMETER_FREE for op in ops) / len(ops),
        )

    # -- networks ------------------------------------------------------------------------
    def check_input(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 3 or min(input_shape[1:]) < 4:
            raise SpaceError(
                f"space 'darts' needs images (channels, height, width) of at least 4x4, not "
                f"input shape {tuple(input_shape)}"
            )

    def _network_options(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "layers": self.layers,
            "nodes": self.nodes,
            "ops": self.ops,
            "concat": self.concat,
            "auxiliary": self.auxiliary,
            "drop_path_prob": self.drop_path_prob,
        }

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        from nasforge.space.choices.primitives import Choices
        from nasforge.space.darts.net import DartsNetwork

        arch = self.validate(arch)
        self.check_input(input_shape)
        answers = dict(arch)
        choices = Choices("child", policy=lambda decision: answers[decision.label])
        return DartsNetwork(choices, input_shape, num_classes, **self._network_options())

    def op_decisions(self) -> tuple[Decision, ...]:
        return tuple(d for d in self._decisions if "_op" in d.label)

    def supernet(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> ChoiceSuperNet:
        """The generic supernet of the darts network: every slot holds every op on every
        candidate input. Candidate BatchNorm is ``affine=False``, as in DARTS's search."""
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
        if self._choice_space is None:
            from nasforge.space.choices.space import ChoiceSpace
            from nasforge.space.darts.net import DartsNetwork

            options = self._network_options()
            options.update(auxiliary=False, drop_path_prob=0.0)
            space = ChoiceSpace(DartsNetwork, **options)
            if [(d.label, d.choices) for d in space.decisions] != [
                (d.label, d.choices) for d in self._decisions
            ]:
                raise SpaceError("the darts network asks other decisions than DartsSpace lists")
            self._choice_space = space
        return self._choice_space
