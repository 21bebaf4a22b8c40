"""Path features of a cell: what flows from a cell's input to its output, and through what.

A cell is a DAG whose edges carry ops; information reaches the output only along paths
of edges none of which is ``none`` (zero). Two cells that differ on an edge no live path
uses compute the same function, and a cell without a live path computes nothing: these are
the facts a surrogate fit on one-hot op choices cannot learn from a hundred trials and a
path encoding states outright (the path encoding of BANANAS, White et al. 2021, in a
compact form). `nasforge.analysis` fits its forest on these features beside the choices.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence

ZERO_OP = "none"


def input_output_paths(edges: Sequence[tuple[int, int]], output: int) -> list[tuple[int, ...]]:
    """Every path from node 0 to `output`, as tuples of edge indices (in `edges` order)."""
    paths: list[tuple[int, ...]] = []

    def walk(node: int, taken: tuple[int, ...]) -> None:
        if node == output:
            paths.append(taken)
            return
        for k, (source, target) in enumerate(edges):
            if source == node:
                walk(target, (*taken, k))

    walk(0, ())
    return paths


def path_summaries(strongest: str) -> tuple[str, ...]:
    """The `path_features` that sum up a cell as a whole: whether any path is live, how many
    are, and how many parametric and `strongest` ops the deepest live path has."""
    return ("connected", "live_paths", "deepest_parametric", f"deepest_{strongest}")


def path_features(
    ops: Sequence[str],
    edges: Sequence[tuple[int, int]],
    output: int,
    *,
    choices: Sequence[str],
    parametric: Collection[str],
    strongest: str,
) -> dict[str, float]:
    """Named numbers that describe the live paths of the cell whose edge k carries `ops[k]`.

    - ``live_op:E=O``: 1 when edge E carries op O and lies on a live path (an edge off every
      live path computes nothing that reaches the output);
    - ``path:P``, ``path:P:parametric``, ``path:P:{strongest}``: whether path P (its edges
      joined by ``-``) is live, and how many parametric and `strongest` ops it has if so;
    - ``connected``, ``live_paths``, ``deepest_parametric``, ``deepest_{strongest}``.
    """
    paths = input_output_paths(edges, output)
    live_edges: set[int] = set()
    features: dict[str, float] = {}
    most_parametric = most_strongest = 0
    for path in paths:
        live = all(ops[k] != ZERO_OP for k in path)
        name = "-".join(str(k) for k in path)
        parametric_ops = sum(ops[k] in parametric for k in path) if live else 0
        strongest_ops = sum(ops[k] == strongest for k in path) if live else 0
        features[f"path:{name}"] = float(live)
        features[f"path:{name}:parametric"] = float(parametric_ops)
        features[f"path:{name}:{strongest}"] = float(strongest_ops)
        most_parametric = max(most_parametric, parametric_ops)
        most_strongest = max(most_strongest, strongest_ops)
        if live:
            live_edges.update(path)
    live_paths = sum(int(features[f"path:{'-'.join(map(str, p))}"]) for p in paths)
    for k, op in itertools.product(range(len(edges)), choices):
        features[f"live_op:{k}={op}"] = float(k in live_edges and ops[k] == op)
    features["connected"] = float(live_paths > 0)
    features["live_paths"] = float(live_paths)
    features["deepest_parametric"] = float(most_parametric)
    features[f"deepest_{strongest}"] = float(most_strongest)
    return features
