"""What an architecture looks like, as data a drawer can render (text in the terminal, SVG
in the HTML report): cells as graphs with an op on each edge, chains as blocks.

A space describes its archs with `SearchSpace.pictures`; a space that returns nothing is
drawn as its list of decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from nasforge.arch import Choice


@dataclass(frozen=True)
class CellEdge:
    """One edge of a cell: ``source`` feeds ``target`` through ``op``."""

    source: str
    target: str
    op: str


@dataclass(frozen=True)
class CellPicture:
    """A cell (NB201, DARTS normal or reduction): its nodes in order, inputs first, output
    last, and its edges. Edges whose op is ``none`` may be left out."""

    title: str
    nodes: tuple[str, ...]
    edges: tuple[CellEdge, ...]


@dataclass(frozen=True)
class ChainBlock:
    """One block of a chain (an MBConv block, an MLP layer): its stage and what was chosen
    for it (``{"kernel": 5, "expansion": 6, "width": 40}``)."""

    stage: int
    fields: Mapping[str, Choice] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainPicture:
    """A chain of blocks, input to output."""

    title: str
    blocks: tuple[ChainBlock, ...]


ArchPicture = CellPicture | ChainPicture
