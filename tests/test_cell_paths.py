"""Path features of NB201 cells (`nasforge.space.cell_paths`) and their use by the forest."""

from __future__ import annotations

import numpy as np

from nasforge.analysis import DecisionForest, decision_importance
from nasforge.arch import Arch
from nasforge.space import NB201Space
from nasforge.space.cell_paths import input_output_paths
from nasforge.space.nb201.space import EDGES, LABELS, OPS


def features(text: str) -> dict[str, float]:
    space = NB201Space()
    return dict(space.structure_features(space.parse(text)))


def test_nb201_has_four_paths_from_input_to_output() -> None:
    # edges: 0 = 0->1, 1 = 0->2, 2 = 1->2, 3 = 0->3, 4 = 1->3, 5 = 2->3
    assert sorted(input_output_paths(EDGES, 3)) == [(0, 2, 5), (0, 4), (1, 5), (3,)]


def test_a_cell_of_zeros_has_no_live_path() -> None:
    named = features("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert named["connected"] == 0.0
    assert named["live_paths"] == 0.0
    assert not any(value for name, value in named.items() if name.startswith("live_op:"))


def test_only_edges_on_live_paths_count_as_live() -> None:
    # node1 gets a conv from the input but node1 reaches the output through nothing:
    # only the direct edge 0->3 is live.
    named = features("|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|")
    assert named["connected"] == 1.0
    assert named["live_paths"] == 1.0
    assert named["path:3"] == 1.0
    assert named["path:3:parametric"] == 1.0
    assert named["path:3:nor_conv_3x3"] == 0.0
    assert named["live_op:3=nor_conv_1x1"] == 1.0
    assert named["live_op:0=nor_conv_3x3"] == 0.0  # 0->1 is on no live path
    assert named["deepest_parametric"] == 1.0


def test_the_longest_path_counts_its_convolutions() -> None:
    named = features("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert named["path:0-2-5"] == 1.0
    assert named["path:0-2-5:nor_conv_3x3"] == 3.0
    assert named["deepest_nor_conv_3x3"] == 3.0
    assert named["live_paths"] == 1.0


def test_the_forest_sees_the_structure_features() -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(40)]
    values = np.array([features(space.format(a))["live_paths"] for a in archs])
    forest = DecisionForest(space, trees=10).fit(DecisionForest(space).rows(archs), values)
    assert "connected" in forest.structure_names
    assert forest.encode(forest.rows(archs)).shape == (
        40,
        len(LABELS) * len(OPS) + len(forest.structure_names),
    )


def _broken_or_not(space: NB201Space, arch: Arch) -> float:
    """10 for a cell without a live path, else 90 less 1 per `none` edge."""
    if not space.structure_features(arch)["connected"]:
        return 10.0
    return 90.0 - sum(str(arch[label]) == "none" for label in LABELS)


def test_one_broken_cell_among_the_trials_reaches_every_tree() -> None:
    """With a single broken cell among 100 trials, a third of the trees' bootstrap samples
    miss it; the linear part on the cell's summaries carries it to all of them, so the
    effect of `none` on the one-edge path (node3_in0) comes out near the truth of the whole
    space, and that edge is the most important."""
    space = NB201Space()
    every = list(space.enumerate())
    values = np.array([_broken_or_not(space, a) for a in every])
    direct_none = np.array([str(a["node3_in0"]) == "none" for a in every])
    true_effect = values[direct_none].mean() - values.mean()
    rng = np.random.default_rng(3)
    sampled = (space.sample(rng) for _ in range(1000))
    connected = [a for a in sampled if space.structure_features(a)["connected"]][:99]
    broken = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    archs = [*connected, broken]
    measured = [_broken_or_not(space, a) for a in archs]
    result = decision_importance(space, archs, measured, metric="acc", seed=0)
    top = max(result.decisions, key=lambda d: d.importance)
    assert top.label == "node3_in0"
    effect = next(e.effect for e in top.effects if str(e.choice) == "none")
    assert abs(effect - true_effect) < 0.25 * abs(true_effect)  # without it: 43% off
    assert not any("connected" in note for note in result.notes)


def test_trials_without_a_broken_cell_say_so() -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    sampled = (space.sample(rng) for _ in range(200))
    connected = [a for a in sampled if space.structure_features(a)["connected"]][:60]
    measured = [_broken_or_not(space, a) for a in connected]
    result = decision_importance(space, connected, measured, metric="acc", seed=0)
    assert [note.split(",")[0] for note in result.notes] == ["every trial has connected = 1"]
