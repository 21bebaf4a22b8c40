"""DARTS genotypes: the text form of a NASNet/DARTS cell pair, and the published ones.

A genotype lists, per cell type, two ``(op, input)`` pairs per intermediate node (inputs 0
and 1 are the outputs of the two previous cells, ``k + 2`` the k-th node of this cell) and
the nodes concatenated into the cell's output::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
             reduce=[('max_pool_3x3', 0), ...], reduce_concat=range(2, 6))

`parse_genotype` reads that text without evaluating it (a small grammar: names, integers,
lists, tuples and ``range(a, b)``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nasforge.errors import ArchError

CellPairs = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Genotype:
    normal: CellPairs
    normal_concat: tuple[int, ...]
    reduce: CellPairs
    reduce_concat: tuple[int, ...]

    def __str__(self) -> str:
        return (
            f"Genotype(normal={_pairs(self.normal)}, normal_concat={list(self.normal_concat)}, "
            f"reduce={_pairs(self.reduce)}, reduce_concat={list(self.reduce_concat)})"
        )

    @property
    def nodes(self) -> int:
        return len(self.normal) // 2


def _pairs(pairs: CellPairs) -> str:
    return "[" + ", ".join(f"({op!r}, {index})" for op, index in pairs) + "]"


def parse_genotype(text: str) -> Genotype:
    """The `Genotype` of its text form; a malformed one is an `ArchError` saying what."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ArchError(f"malformed genotype {text[:60]!r}...: not Genotype(...)") from None
    if not (isinstance(tree, ast.Call) and _name(tree.func) == "Genotype" and not tree.args):
        raise ArchError(
            "malformed genotype: expected Genotype(normal=[...], normal_concat=[...], "
            "reduce=[...], reduce_concat=[...])"
        )
    fields = {keyword.arg: keyword.value for keyword in tree.keywords}
    wanted = ("normal", "normal_concat", "reduce", "reduce_concat")
    missing = [name for name in wanted if name not in fields]
    extra = [name for name in fields if name not in wanted]
    if missing or extra:
        raise ArchError(
            f"malformed genotype: {'missing ' + ', '.join(missing) if missing else ''}"
            f"{'; ' if missing and extra else ''}"
            f"{'unknown field ' + ', '.join(map(str, extra)) if extra else ''}"
        )
    return Genotype(
        normal=_cell(fields["normal"], "normal"),
        normal_concat=_indices(fields["normal_concat"], "normal_concat"),
        reduce=_cell(fields["reduce"], "reduce"),
        reduce_concat=_indices(fields["reduce_concat"], "reduce_concat"),
    )


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _cell(node: ast.expr, field: str) -> CellPairs:
    if not isinstance(node, ast.List | ast.Tuple):
        raise ArchError(f"malformed genotype: {field} must be a list of (op, input) pairs")
    pairs = []
    for item in node.elts:
        if not (
            isinstance(item, ast.Tuple)
            and len(item.elts) == 2
            and isinstance(item.elts[0], ast.Constant)
            and isinstance(item.elts[0].value, str)
            and isinstance(item.elts[1], ast.Constant)
            and type(item.elts[1].value) is int
        ):
            raise ArchError(
                f"malformed genotype: each entry of {field} must be ('op_name', input_index)"
            )
        pairs.append((item.elts[0].value, item.elts[1].value))
    return tuple(pairs)


def _indices(node: ast.expr, field: str) -> tuple[int, ...]:
    if isinstance(node, ast.Call) and _name(node.func) == "range" and not node.keywords:
        bounds = [a.value for a in node.args if isinstance(a, ast.Constant)]
        ints = [b for b in bounds if type(b) is int]
        if len(ints) == len(node.args) and 1 <= len(ints) <= 2:
            return tuple(range(*ints))
    if isinstance(node, ast.List | ast.Tuple):
        values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        ints = [v for v in values if type(v) is int]
        if len(ints) == len(node.elts):
            return tuple(ints)
    raise ArchError(f"malformed genotype: {field} must be a list of node indices or range(a, b)")


# -- the published genotypes ------------------------------------------------------------

_DARTS_CONCAT = (2, 3, 4, 5)

PUBLISHED: dict[str, Genotype] = {
    # Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition",
    # CVPR 2018 (NASNet-A), as transcribed in the DARTS authors' cnn/genotypes.py
    # (github.com/quark0/darts).
    "NASNet": Genotype(
        normal=(
            ("sep_conv_5x5", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 0),
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
        ),
        normal_concat=(2, 3, 4, 5, 6),
        reduce=(
            ("sep_conv_5x5", 1),
            ("sep_conv_7x7", 0),
            ("max_pool_3x3", 1),
            ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 0),
            ("skip_connect", 3),
            ("avg_pool_3x3", 2),
            ("sep_conv_3x3", 2),
            ("max_pool_3x3", 1),
        ),
        reduce_concat=(4, 5, 6),
    ),
    # Real et al., "Regularized Evolution for Image Classifier Architecture Search", AAAI
    # 2019 (AmoebaNet-A), as transcribed in quark0/darts cnn/genotypes.py.
    "AmoebaNet": Genotype(
        normal=(
            ("avg_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 3),
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 1),
        ),
        normal_concat=(4, 5, 6),
        reduce=(
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("max_pool_3x3", 0),
            ("sep_conv_7x7", 2),
            ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("conv_7x1_1x7", 0),
            ("sep_conv_3x3", 5),
        ),
        reduce_concat=(3, 4, 6),
    ),
    # Liu et al., "DARTS: Differentiable Architecture Search", ICLR 2019: first-order
    # (DARTS_V1) and second-order (DARTS_V2) cells, quark0/darts cnn/genotypes.py.
    "DARTS_V1": Genotype(
        normal=(
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 2),
        ),
        normal_concat=_DARTS_CONCAT,
        reduce=(
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("avg_pool_3x3", 0),
        ),
        reduce_concat=_DARTS_CONCAT,
    ),
    "DARTS_V2": Genotype(
        normal=(
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ),
        normal_concat=_DARTS_CONCAT,
        reduce=(
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ),
        reduce_concat=_DARTS_CONCAT,
    ),
    # Pham et al., "Efficient Neural Architecture Search via Parameter Sharing", ICML 2018:
    # the ENAS cell in DARTS form (5 nodes), as in xautodl's cell genotypes (ENASNet,
    # github.com/D-X-Y/AutoDL-Projects).
    "ENAS": Genotype(
        normal=(
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
            ("sep_conv_5x5", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 1),
            ("avg_pool_3x3", 0),
        ),
        normal_concat=(2, 3, 4, 5, 6),
        reduce=(
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 1),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 1),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 4),
            ("sep_conv_3x3", 5),
            ("sep_conv_5x5", 0),
        ),
        reduce_concat=(2, 3, 4, 5, 6),
    ),
    # Xu et al., "PC-DARTS: Partial Channel Connections for Memory-Efficient Architecture
    # Search", ICLR 2020: the CIFAR-10 cell, PC_DARTS_cifar in github.com/yuhuixu1993/PC-DARTS
    # genotypes.py.
    "PC_DARTS": Genotype(
        normal=(
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 0),
            ("dil_conv_3x3", 1),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 0),
            ("dil_conv_3x3", 1),
        ),
        normal_concat=_DARTS_CONCAT,
        reduce=(
            ("sep_conv_5x5", 1),
            ("max_pool_3x3", 0),
            ("sep_conv_5x5", 1),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 3),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 2),
        ),
        reduce_concat=_DARTS_CONCAT,
    ),
    # Dong and Yang, "Searching for A Robust Neural Architecture in Four GPU Hours", CVPR
    # 2019: GDAS_V1 as in xautodl's cell genotypes.
    "GDAS": Genotype(
        normal=(
            ("skip_connect", 0),
            ("skip_connect", 1),
            ("skip_connect", 0),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 3),
            ("skip_connect", 0),
            ("sep_conv_5x5", 4),
            ("sep_conv_3x3", 3),
        ),
        normal_concat=_DARTS_CONCAT,
        reduce=(
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_5x5", 2),
            ("sep_conv_5x5", 1),
            ("dil_conv_5x5", 2),
            ("sep_conv_3x3", 1),
            ("sep_conv_5x5", 0),
            ("sep_conv_5x5", 1),
        ),
        reduce_concat=_DARTS_CONCAT,
    ),
}
