"""Names of the darts space that need no torch: its ops, its cell types and its labels
(`nasforge.space` is imported without torch; the networks import it)."""

from __future__ import annotations

from collections.abc import Sequence

SEARCH_OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The DARTS primitives a cell chooses from (``none`` is the eighth: see `DartsSpace`)."""
NASNET_OPS: tuple[str, ...] = (*SEARCH_OPS, "sep_conv_7x7", "conv_7x1_1x7")
"""With the two ops NASNet and AmoebaNet use beyond the DARTS primitives."""
ALL_OPS: tuple[str, ...] = ("none", *NASNET_OPS)
PARAMETER_FREE: frozenset[str] = frozenset({"none", "max_pool_3x3", "avg_pool_3x3", "skip_connect"})
"""Ops without weights when they do not reduce (the ones DARTS collapses to)."""
CELL_TYPES = ("normal", "reduce")


def input_label(cell: str, node: int, slot: int) -> str:
    return f"{cell}_node{node}_in{slot}"


def op_label(cell: str, node: int, slot: int) -> str:
    return f"{cell}_node{node}_op{slot}"


def edge_label(cell: str, node: int, source: int) -> str:
    """The supernet's op choice on the edge from state ``source`` into node ``node``
    (DARTS's one op vector per edge; not a decision of the space's archs)."""
    return f"{cell}_node{node}_edge{source}"


def concat_nodes(rule: str, inputs: Sequence[int], nodes: int) -> tuple[int, ...]:
    """The states a cell concatenates (2 .. nodes + 1): all of them (DARTS), or the ones no
    node takes as input (``loose``, NASNet and AmoebaNet)."""
    states = range(2, nodes + 2)
    if rule == "all":
        return tuple(states)
    return tuple(state for state in states if state not in set(inputs))
