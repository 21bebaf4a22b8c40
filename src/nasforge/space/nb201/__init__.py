"""The NAS-Bench-201 cell space: `space` (`NB201Space`: decisions, NB201 strings, canonical
form), `net` (the network, written once with labelled choices for children and supernets)
and `path_encoding` (the BANANAS path encoding of a cell)."""

from __future__ import annotations

from nasforge.space.nb201.space import EDGES, LABELS, NODES, OPS, NB201Space, parse_nb201_ops

__all__ = ["EDGES", "LABELS", "NODES", "OPS", "NB201Space", "parse_nb201_ops"]
