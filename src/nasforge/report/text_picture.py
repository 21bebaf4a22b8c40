"""Architectures drawn as text for the terminal (`nasforge describe`, `nasforge best`).

A cell is listed node by node, each with the nodes that feed it and the op on each edge::

    cell
      node1 <- in: nor_conv_3x3
      node2 <- in: nor_conv_3x3, node1: nor_conv_3x3
      out   <- in: skip_connect, node1: nor_conv_3x3, node2: nor_conv_1x1

A chain is one line per block, grouped by stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nasforge.arch import Arch
from nasforge.space.picture import ArchPicture, CellPicture, ChainPicture


def render_text(pictures: Sequence[ArchPicture], arch: Arch | None = None) -> str:
    """The pictures one after another; with none, the decisions of `arch` (if given)."""
    if not pictures:
        return render_decisions(arch) if arch is not None else ""
    return "\n".join(
        render_cell(p) if isinstance(p, CellPicture) else render_chain(p) for p in pictures
    )


def render_cell(picture: CellPicture) -> str:
    width = max((len(node) for node in picture.nodes), default=0)
    lines = [picture.title]
    for node in picture.nodes:
        incoming = [edge for edge in picture.edges if edge.target == node]
        if not incoming:
            continue
        sources = ", ".join(f"{edge.source}: {edge.op}" for edge in incoming)
        lines.append(f"  {node:<{width}} <- {sources}")
    return "\n".join(lines)


def render_chain(picture: ChainPicture) -> str:
    lines = [picture.title]
    stage: int | None = None
    for index, block in enumerate(picture.blocks, start=1):
        head = f"stage {block.stage}" if block.stage != stage else ""
        stage = block.stage
        lines.append(f"  {head:<8} block {index:<3} {_fields(block.fields)}".rstrip())
    return "\n".join(lines)


def render_decisions(arch: Arch) -> str:
    width = max((len(label) for label in arch), default=0)
    return "\n".join(f"  {label:<{width}} = {value}" for label, value in arch.items())


def _fields(fields: Mapping[str, object]) -> str:
    return "  ".join(f"{name}={value}" for name, value in fields.items())
