"""Deriving a DARTS cell from architecture weights: DARTS's rule (``Network.genotype`` in
quark0/darts) on a supernet's per-edge weights, and the same rule on weights of a cell's
own decisions (ENAS's marginals). `DartsSpace.derive` validates the result."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nasforge.errors import ArchError
from nasforge.space.darts.names import CELL_TYPES, edge_label, input_label, op_label

Weights = Mapping[str, Sequence[float]]


def derive_choices(
    weights: Weights, ops: tuple[str, ...], nodes: int, labels: Sequence[str]
) -> dict[str, Any] | None:
    """The choices of the cell `weights` point at, in a space of `ops` and `nodes` whose
    decisions are `labels`: from per-edge weights (``{cell}_node{k}_edge{i}``, one value for
    ``none`` and each op) if `weights` has every edge, else from weights of every decision
    in `labels`; None for other weights."""
    if all(
        edge_label(cell, node, i) in weights
        for cell in CELL_TYPES
        for node in range(nodes)
        for i in range(node + 2)
    ):
        return _choices(ops, nodes, lambda cell, node: edge_weights(weights, ops, cell, node))
    if all(label in weights for label in labels):
        return _choices(ops, nodes, lambda cell, node: slot_weights(weights, ops, cell, node))
    return None


def edge_weights(weights: Weights, ops: tuple[str, ...], cell: str, node: int) -> np.ndarray:
    """Rows: the node's inputs; columns: the ops (``none`` dropped)."""
    rows = [np.asarray(weights[edge_label(cell, node, i)], dtype=float) for i in range(node + 2)]
    for row in rows:
        if row.shape != (len(ops) + 1,):
            raise ArchError(
                f"{edge_label(cell, node, 0)}: edge weights need {len(ops) + 1} "
                f"values (none and the ops), not {row.shape[0]}"
            )
    return np.stack(rows)[:, 1:]


def slot_weights(weights: Weights, ops: tuple[str, ...], cell: str, node: int) -> np.ndarray:
    """The weight of op ``o`` on input ``i``: the sum over slots of ``P(in_s = i) P(op_s = o)``."""
    edge = np.zeros((node + 2, len(ops)))
    for slot in range(2):
        inputs = np.asarray(weights[input_label(cell, node, slot)], dtype=float)
        chosen = np.asarray(weights[op_label(cell, node, slot)], dtype=float)
        edge += np.outer(inputs, chosen)
    return edge


def _choices(
    ops: tuple[str, ...], nodes: int, edges: Callable[[str, int], np.ndarray]
) -> dict[str, Any]:
    """Each node keeps the two inputs whose strongest op is strongest (ties: the earlier
    input), each with that op; slot 0 takes the stronger."""
    choices: dict[str, Any] = {}
    for cell in CELL_TYPES:
        for node in range(nodes):
            edge = edges(cell, node)
            strength = edge.max(axis=1)
            kept = sorted(range(node + 2), key=lambda i: (-strength[i], i))[:2]
            for slot, source in enumerate(kept):
                choices[input_label(cell, node, slot)] = source
                choices[op_label(cell, node, slot)] = ops[int(edge[source].argmax())]
    return choices
