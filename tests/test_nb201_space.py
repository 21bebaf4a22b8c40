"""The NAS-Bench-201 space: NB201 strings, and the isomorphism classes of the benchmark."""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

import pytest

from nasforge.arch import Arch
from nasforge.errors import ArchError
from nasforge.space.nb201.space import EDGES, LABELS, NODES, OPS, NB201Space, cell_function_key

NONE, SKIP, C1, C3, POOL = OPS
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def rows(nb201_csv_path: Path) -> list[dict[str, str]]:
    with nb201_csv_path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def archs(rows: list[dict[str, str]], space: NB201Space) -> list[Arch]:
    return [space.from_nb201_string(row["arch"]) for row in rows]


@pytest.fixture(scope="module")
def iso_of(rows: list[dict[str, str]]) -> dict[str, str]:
    """NB201 string -> the benchmark's isomorphism class id."""
    return {row["arch"]: row["iso_id"] for row in rows}


def from_ops(ops: Sequence[str]) -> Arch:
    return Arch(dict(zip(LABELS, ops, strict=True)))


def partition(keys: Sequence[Hashable]) -> set[frozenset[int]]:
    groups: dict[Hashable, set[int]] = defaultdict(set)
    for index, key in enumerate(keys):
        groups[key].add(index)
    return {frozenset(group) for group in groups.values()}


# -- NB201 strings --------------------------------------------------------------------------------


def test_table_covers_the_space_once(
    rows: list[dict[str, str]], archs: list[Arch], space: NB201Space
) -> None:
    assert len(rows) == 15_625 == space.size()
    assert [row["idx"] for row in rows] == [str(i) for i in range(len(rows))]
    assert set(archs) == set(space.enumerate())


def test_nb201_string_round_trips_for_every_row(
    rows: list[dict[str, str]], archs: list[Arch], space: NB201Space
) -> None:
    for row, arch in zip(rows, archs, strict=True):
        assert list(arch) == list(LABELS)
        assert space.to_nb201_string(arch) == row["arch"]
        assert space.format(arch) == row["arch"]
        assert space.parse(row["arch"]) == arch
        assert space.parse(str(arch)) == arch


def test_nb201_string_maps_edges_to_labels(space: NB201Space) -> None:
    text = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    arch = space.parse(text)
    assert arch == Arch(
        {
            "node1_in0": C3,
            "node2_in0": C1,
            "node2_in1": POOL,
            "node3_in0": SKIP,
            "node3_in1": NONE,
            "node3_in2": C3,
        }
    )
    assert space.ops(arch) == (C3, C1, POOL, SKIP, NONE, C3)
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def test_parse_reads_arch_text_in_any_label_order(space: NB201Space) -> None:
    arch = from_ops((C3, C1, POOL, SKIP, NONE, C3))
    shuffled = ",".join(f"{label}={arch[label]}" for label in reversed(LABELS))
    assert space.parse(shuffled) == arch
    assert space.parse(f"  {space.format(arch)}  ") == arch


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "expected |op~0|+"),
        ("|none~0|", "expected |op~0|+"),
        ("", "expected |op~0|+"),
        (f"{ALL_NONE}+|none~0|", "expected |op~0|+"),
        ("|none~0+|none~0|none~1|+|none~0|none~1|none~2|", "expected |op~0|+"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "expected |op~0|+"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "'none~1' of node 1 should read op~0"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "'none~2' of node 2 should read op~1"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "'none' of node 1 should read op~0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs, found 1"),
        (
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|",
            "node 3 needs 3 inputs, found 4",
        ),
        ("|none~0|+|none~0||none~1|+|none~0|none~1|none~2|", "node 2 needs 2 inputs, found 3"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|Skip_Connect~2|", "unknown op 'Skip_Connect'"),
    ],
)
def test_bad_nb201_strings(space: NB201Space, text: str, problem: str) -> None:
    with pytest.raises(ArchError) as info:
        space.from_nb201_string(text)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)
    if text:  # space.parse reads the same NB201 string with the same complaint
        with pytest.raises(ArchError, match="NB201 arch string"):
            space.parse(text)


def test_unknown_op_error_lists_the_ops(space: NB201Space) -> None:
    with pytest.raises(ArchError) as info:
        space.parse("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert all(op in str(info.value) for op in OPS)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "node1_in0=conv_5x5,node2_in0=none,node2_in1=none,node3_in0=none,node3_in1=none,"
            "node3_in2=none",
            "'conv_5x5' is not a choice of 'node1_in0'",
        ),
        (
            "node1_in0=none,node2_in0=none,node2_in1=none,node3_in0=none,node3_in1=none",
            "missing node3_in2",
        ),
        (
            "node1_in0=none,node2_in0=none,node2_in1=none,node3_in0=none,node3_in1=none,"
            "node3_in2=none,node4_in0=none",
            "unknown node4_in0",
        ),
        ("", "missing node1_in0"),
        ("none~0|+|none~0|none~1|", "expected label=choice"),
    ],
)
def test_bad_arch_text(space: NB201Space, text: str, problem: str) -> None:
    with pytest.raises(ArchError) as info:
        space.parse(text)
    assert problem in str(info.value)


# -- canonical: the isomorphism classes of the benchmark -------------------------------------------


def test_canonical_partitions_the_table_exactly_like_iso_id(
    rows: list[dict[str, str]], archs: list[Arch], space: NB201Space
) -> None:
    by_canonical = partition([space.canonical(arch) for arch in archs])
    by_iso_id = partition([row["iso_id"] for row in rows])
    assert len(by_iso_id) == 6_466
    assert len(by_canonical) == 6_466
    assert by_canonical == by_iso_id


def test_canonical_is_idempotent_and_stays_in_class(
    archs: list[Arch], space: NB201Space, iso_of: dict[str, str]
) -> None:
    for arch in archs:
        canonical = space.canonical(arch)
        assert list(canonical) == list(LABELS)
        assert space.canonical(canonical) == canonical
        assert iso_of[space.to_nb201_string(canonical)] == iso_of[space.to_nb201_string(arch)]
        assert cell_function_key(space.ops(canonical)) == cell_function_key(space.ops(arch))


def test_canonical_is_the_first_member_in_grid_order(space: NB201Space) -> None:
    first: dict[str, Arch] = {}
    for arch in space.enumerate():
        first.setdefault(cell_function_key(space.ops(arch)), arch)
    for arch in itertools.islice(space.enumerate(), 0, None, 7):
        assert space.canonical(arch) == first[cell_function_key(space.ops(arch))]


def test_canonical_validates(space: NB201Space) -> None:
    with pytest.raises(ArchError, match="not a choice"):
        space.canonical(from_ops((NONE, NONE, NONE, NONE, NONE, "conv_5x5")))


@pytest.mark.parametrize(("a", "b"), [(1, 2), (3, 4)], ids=["into_node2", "into_node3"])
def test_swapping_inputs_from_equal_nodes_is_irrelevant(
    space: NB201Space, iso_of: dict[str, str], a: int, b: int
) -> None:
    """With node1 = skip(node0), node1 equals node0: edges 0->j and 1->j are interchangeable."""
    assert EDGES[a][0] == 0 and EDGES[b][0] == 1 and EDGES[a][1] == EDGES[b][1]
    swapped_classes = 0
    for rest in itertools.product(OPS, repeat=5):
        ops = [SKIP, *rest]
        swapped = list(ops)
        swapped[a], swapped[b] = ops[b], ops[a]
        arch, other = from_ops(ops), from_ops(swapped)
        assert space.canonical(arch) == space.canonical(other)
        assert iso_of[space.format(arch)] == iso_of[space.format(other)]
        swapped_classes += arch != other
    assert swapped_classes > 0


def test_swapping_inputs_from_different_nodes_matters(space: NB201Space) -> None:
    # node1 = conv3x3(node0) differs from node0, so feeding node3 conv1x1(node0) + pool(node1)
    # differs from pool(node0) + conv1x1(node1).
    first = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|")
    second = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert space.canonical(first) != space.canonical(second)


def test_identity_cells_through_skip_paths(space: NB201Space, iso_of: dict[str, str]) -> None:
    direct = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    via_node1 = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    # node1 is x, so its skip into node2 equals node0's: two ways to reach the same node2
    via_node2 = "|skip_connect~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"
    via_node1_to_2 = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
    assert space.canonical(space.parse(direct)) == space.canonical(space.parse(via_node1))
    assert iso_of[direct] == iso_of[via_node1]
    assert space.canonical(space.parse(via_node2)) == space.canonical(space.parse(via_node1_to_2))
    assert iso_of[via_node2] == iso_of[via_node1_to_2]
    # a path through node2 carries node2's zero term along (see test_zero_sum_is_not_zero)
    assert space.canonical(space.parse(direct)) != space.canonical(space.parse(via_node2))
    assert iso_of[direct] != iso_of[via_node2]


def test_cells_with_all_none_into_node3_are_one_class(
    space: NB201Space, iso_of: dict[str, str]
) -> None:
    cells = [from_ops((*front, NONE, NONE, NONE)) for front in itertools.product(OPS, repeat=3)]
    assert len({space.canonical(c) for c in cells}) == 1
    assert space.canonical(cells[0]) == space.parse(ALL_NONE)
    assert len({iso_of[space.format(c)] for c in cells}) == 1


def test_when_node1_is_zero_its_outgoing_edges_do_not_matter(
    space: NB201Space, iso_of: dict[str, str]
) -> None:
    for e02, e03, e23 in itertools.product(OPS, repeat=3):
        cells = [
            from_ops((NONE, e02, e12, e03, e13, e23)) for e12, e13 in itertools.product(OPS, OPS)
        ]
        assert len({space.canonical(c) for c in cells}) == 1
        assert len({iso_of[space.format(c)] for c in cells}) == 1


def test_when_nothing_reaches_node3_from_node2_node2_does_not_matter(space: NB201Space) -> None:
    for e01, e03, e13 in [(C3, SKIP, POOL), (NONE, C1, C3), (SKIP, SKIP, SKIP)]:
        cells = [
            from_ops((e01, e02, e12, e03, e13, NONE)) for e02, e12 in itertools.product(OPS, OPS)
        ]
        assert len({space.canonical(c) for c in cells}) == 1


def test_zero_sum_is_not_zero() -> None:
    """Pin the benchmark's convention: a node that sums two zero terms is not itself zero.

    NAS-Bench-201's ``get_unique_str`` keeps zero terms in a node's sum, so ``none + none`` is
    not simplified to zero, and an op applied to that node is not a dead branch. Mathematically
    both cells below output zero, but the benchmark lists them in different classes: this is
    what gives its 6,466 classes rather than the 5,390 of a "true zero" convention.
    """
    all_none = (NONE,) * 6
    conv_after_zero_sum = (NONE, NONE, NONE, NONE, NONE, C3)
    assert cell_function_key(all_none) != cell_function_key(conv_after_zero_sum)
    # whereas a node with one zero term is zero, and an op after it is dropped
    assert cell_function_key((NONE, NONE, NONE, NONE, C3, NONE)) == cell_function_key(all_none)


def test_zero_sum_convention_matches_the_table(
    iso_of: dict[str, str], archs: list[Arch], space: NB201Space
) -> None:
    assert iso_of[ALL_NONE] != iso_of["|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"]

    def true_zero_key(ops: Sequence[str]) -> str:
        keys = ["0"]
        for j in range(1, NODES + 1):
            terms = sorted(
                keys[i] if ops[k] == SKIP else f"({keys[i]})@{ops[k]}"
                for k, (i, to) in enumerate(EDGES)
                if to == j and ops[k] != NONE and keys[i] != "#"
            )
            keys.append("+".join(terms) or "#")
        return keys[-1]

    assert len({true_zero_key(space.ops(a)) for a in archs}) == 5_390


def test_cell_function_key_is_order_free_within_a_node() -> None:
    # node1 = x and node2 = x + 0 (a different node key): of node3's three edges, only the ones
    # from node0 and node1 may trade ops.
    base = (SKIP, SKIP, NONE, C1, POOL, C3)
    swapped = (SKIP, SKIP, NONE, POOL, C1, C3)
    assert cell_function_key(base) == cell_function_key(swapped)
    moved_to_node2 = (SKIP, SKIP, NONE, C1, C3, POOL)
    assert cell_function_key(base) != cell_function_key(moved_to_node2)
