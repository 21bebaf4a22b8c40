"""Path encoding of NAS-Bench-201 cells (White et al., AAAI 2021: BANANAS).

A cell's input reaches its output along four routes through the DAG: ``0->3``, ``0->1->3``,
``0->2->3`` and ``0->1->2->3``. Each route carries the sequence of ops on its edges; a route
with ``none`` on any edge is cut, so it is no path. The encoding has one feature per op
sequence of length 1, 2 or 3 over the four live ops (4 + 16 + 64 = 84 features), set to 1
if some route carries that sequence. Two routes with the same sequence share a feature,
which is what makes the encoding blind to the order of parallel branches.
"""

from __future__ import annotations

import itertools

import numpy as np

from nasforge.arch import Arch
from nasforge.space.nb201.space import EDGES, LABELS, OPS

LIVE_OPS: tuple[str, ...] = tuple(op for op in OPS if op != "none")
ROUTES: tuple[tuple[int, ...], ...] = ((0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3))
"""Every input-to-output route of the NB201 DAG, as node sequences."""

PATHS: tuple[tuple[str, ...], ...] = tuple(
    path for length in (1, 2, 3) for path in itertools.product(LIVE_OPS, repeat=length)
)
"""The feature order: every op sequence of length 1, then 2, then 3."""

_FEATURE = {path: index for index, path in enumerate(PATHS)}
_EDGE_INDEX = {edge: index for index, edge in enumerate(EDGES)}


def cell_paths(ops: tuple[str, ...]) -> set[tuple[str, ...]]:
    """The op sequences of the live input-to-output paths of a cell given by its 6 ops."""
    paths = set()
    for route in ROUTES:
        path = tuple(ops[_EDGE_INDEX[edge]] for edge in itertools.pairwise(route))
        if "none" not in path:
            paths.add(path)
    return paths


def nb201_path_encoding(arch: Arch) -> np.ndarray:
    """The 84-long 0/1 path encoding of an NB201 arch (decisions labelled as in `NB201Space`)."""
    ops = tuple(str(arch[label]) for label in LABELS)
    encoding = np.zeros(len(PATHS), dtype=np.float32)
    for path in cell_paths(ops):
        encoding[_FEATURE[path]] = 1.0
    return encoding
