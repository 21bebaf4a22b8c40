"""Decision importance and explanations on synthetic objectives whose truth is known."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from scipy.stats import spearmanr
from torch import nn

from nasforge.analysis import TooFewTrials, decision_importance, explain
from nasforge.analysis.surrogate import RIDGE, LinearPart, leave_one_out
from nasforge.arch import Arch
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.choices.primitives import Choices
from nasforge.space.choices.space import ChoiceSpace

EFFECTS = {
    "a": {"x": 3.0, "y": 0.0, "z": -3.0},
    "b": {"p": 1.0, "q": -1.0},
    "c": {"k1": 0.5, "k2": 0.0, "k3": -0.25, "k4": -0.25},
    "d": {"u": 0.0, "v": 0.0, "w": 0.0},
}
"""Known additive effects, each centred over its decision's choices; d does nothing."""


class TinySpace(SearchSpace):
    name = "tiny"

    @property
    def decisions(self) -> Sequence[Decision]:
        return tuple(Decision(label, tuple(effects)) for label, effects in EFFECTS.items())

    def build(self, arch: Arch, input_shape: tuple[int, ...] = (1,), num_classes: int = 2):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def _additive(arch: Arch) -> float:
    return 50.0 + sum(EFFECTS[label][str(arch[label])] for label in EFFECTS)


def _trials(count: int, objective, seed: int = 0, noise: float = 0.1):  # type: ignore[no-untyped-def]
    space = TinySpace()
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(count)]
    values = [objective(a) + noise * rng.standard_normal() for a in archs]
    return space, archs, values


def test_known_additive_effects_are_recovered() -> None:
    space, archs, values = _trials(150, _additive)
    result = decision_importance(space, archs, values, metric="acc")
    by_label = {d.label: d for d in result.decisions}
    estimated, truth = [], []
    for label, effects in EFFECTS.items():
        for effect in by_label[label].effects:
            estimated.append(effect.effect)
            truth.append(effects[str(effect.choice)])
            assert effect.sd >= 0 and effect.trials > 0
    assert spearmanr(estimated, truth)[0] > 0.9
    assert np.corrcoef(estimated, truth)[0, 1] > 0.97
    # importance order follows the variances of the effects: a (6), b (1), c (0.094), d (0)
    assert [d.label for d in result.decisions] == ["a", "b", "c", "d"]
    assert by_label["a"].best == "x" and by_label["b"].best == "p"
    assert by_label["d"].importance < 0.02
    assert result.interaction_share < 0.2
    assert result.fit_r2 is not None and result.fit_r2 > 0.8
    assert result.fit_rank is not None and result.fit_rank > 0.8
    assert result.warning is None


def test_direction_min_picks_the_lowest_effect_as_best() -> None:
    space, archs, values = _trials(150, _additive)
    result = decision_importance(space, archs, values, metric="loss", direction="min")
    by_label = {d.label: d for d in result.decisions}
    assert by_label["a"].best == "z" and by_label["b"].best == "q"
    assert result.to_dict()["direction"] == "min"


def test_a_pure_interaction_leaves_the_variance_to_interactions() -> None:
    def xor(arch: Arch) -> float:  # a and b matter only together; no main effect at all
        return 1.0 if (arch["a"] == "x") != (arch["b"] == "p") else 0.0

    space, archs, values = _trials(200, xor, noise=0.01)
    result = decision_importance(space, archs, values)
    assert result.interaction_share > 0.8
    assert {result.interactions[0].first, result.interactions[0].second} == {"a", "b"}
    assert result.interactions[0].share > 0.5


def test_too_few_trials_say_so_and_how_many_are_needed() -> None:
    space, archs, values = _trials(9, _additive)
    with pytest.raises(TooFewTrials, match=r"too few trials .* 9 with acc, need at least 10"):
        decision_importance(space, archs, values, metric="acc")
    with pytest.raises(TooFewTrials, match="same acc"):
        decision_importance(space, archs * 2, [1.0] * 18, metric="acc")
    fewer = decision_importance(space, archs, values, metric="acc", min_trials=9)
    assert fewer.trials == 9 and fewer.decisions
    with pytest.raises(TooFewTrials, match="need at least 12"):
        decision_importance(space, archs, values, metric="acc", min_trials=12)


def test_noise_alone_gives_a_warning() -> None:
    space = TinySpace()
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(200)]  # out-of-bag Spearman of noise: sd 0.07
    result = decision_importance(space, archs, rng.standard_normal(200))
    assert result.warning is not None and "not reliable" in result.warning
    assert result.fit_rank is not None and result.fit_rank < 0.2
    explained = explain(space, archs, rng.standard_normal(200), archs[0])
    assert explained.warning is not None and "not reliable" in explained.warning


def test_explain_splits_a_prediction_into_the_decisions_contributions() -> None:
    space, archs, values = _trials(150, _additive)
    target = Arch({"a": "x", "b": "p", "c": "k1", "d": "u"})
    result = explain(space, archs, values, target, metric="acc")
    by_label = {c.label: c for c in result.contributions}
    assert result.contributions[0].label == "a"
    assert by_label["a"].contribution == pytest.approx(3.0, abs=0.6)
    assert by_label["b"].contribution == pytest.approx(1.0, abs=0.3)
    assert abs(by_label["d"].contribution) < 0.2
    parts = result.average + sum(c.contribution for c in result.contributions)
    assert result.predicted == pytest.approx(parts + result.interactions)
    assert result.predicted == pytest.approx(_additive(target), abs=1.0)
    # neighbours: evaluated archs one decision away, with their measured values, best first
    assert result.neighbours
    for neighbour in result.neighbours:
        arch = Arch.parse(neighbour.arch)
        assert sum(arch[label] != target[label] for label in EFFECTS) == 1
        assert arch[neighbour.label] != target[neighbour.label]
        assert neighbour.measured == pytest.approx(values[neighbour.trial])
    measured = [n.measured for n in result.neighbours]
    assert measured == sorted(measured, reverse=True)
    if target in archs:
        assert result.measured is not None


class _Pooled(nn.Module):
    """``pool_k`` exists only when ``pool`` is max."""

    def __init__(self, choices: Choices) -> None:
        super().__init__()
        if choices.choose_value("pool", ["none", "max"]) == "max":
            choices.choose_value("pool_k", [2, 3, 5])
        choices.choose_value("act", ["relu", "tanh", "gelu"])
        choices.choose_value("width", [8, 16])


def test_a_conditional_space_gives_inactive_decisions_no_contribution() -> None:
    space = ChoiceSpace(_Pooled)
    assert space.conditional

    def objective(arch: Arch) -> float:
        kernel = {2: 1.0, 3: 2.0, 5: -1.0}[arch["pool_k"]] if "pool_k" in arch else 0.0
        return kernel + (0.5 if arch["act"] == "gelu" else 0.0)

    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(80)]
    values = [objective(a) + 0.01 * rng.standard_normal() for a in archs]
    result = decision_importance(space, archs, values)
    by_label = {d.label: d for d in result.decisions}
    assert by_label["pool_k"].best == 3 and by_label["act"].best == "gelu"
    assert by_label["width"].importance < 0.05
    target = space.parse("pool=none,act=gelu,width=8")
    explanation = explain(space, archs, values, target)
    contributions = {c.label: c for c in explanation.contributions}
    assert contributions["pool_k"].choice is None and contributions["pool_k"].contribution == 0
    assert contributions["act"].contribution > 0


def test_the_linear_part_fits_a_plane_and_ignores_a_constant_summary() -> None:
    rng = np.random.default_rng(0)
    summaries = np.column_stack([rng.integers(0, 4, 50), np.ones(50), rng.integers(0, 2, 50)])
    values = 5.0 + 2.0 * summaries[:, 0] - 3.0 * summaries[:, 2]
    part = LinearPart.fit(summaries.astype(float), values)
    assert np.allclose(part.slopes, [2.0, 0.0, -3.0], atol=1e-3)
    assert part.covariance[1].tolist() == [0.0, 0.0, 0.0]  # nothing known of a constant
    drawn = part.draw(np.random.default_rng(1))
    assert drawn.slopes[1] == 0.0
    assert np.allclose(drawn.predict(summaries.astype(float)), values, atol=1e-2)


def test_leave_one_out_equals_refitting_without_each_trial() -> None:
    rng = np.random.default_rng(0)
    summaries = np.column_stack([rng.integers(0, 4, 30), rng.integers(0, 2, 30)]).astype(float)
    values = 3.0 * summaries[:, 0] - summaries[:, 1] + rng.standard_normal(30)
    refit = []
    for i in range(30):
        others = np.arange(30) != i
        design = np.column_stack([np.ones(29), summaries[others]])
        coef = np.linalg.solve(design.T @ design + RIDGE * np.eye(3), design.T @ values[others])
        refit.append(coef[0] + summaries[i] @ coef[1:])
    assert np.allclose(leave_one_out(summaries, values), refit)
