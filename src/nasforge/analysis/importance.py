"""`decision_importance`: which decisions of a space mattered for a metric, from trials.

A `DecisionForest` is fit on the trials; its prediction f is then decomposed over the
uniform distribution on the space, as in functional ANOVA (fANOVA, Hutter et al. 2014):

- the marginal effect of choice c of decision d is E[f | d=c] less its average over the
  choices of d (in metric units; E over a uniform reference sample of the space);
- the importance of d is the variance of its marginal effects over its choices, as a share
  of the variance of f;
- what the main effects leave is the interaction share; a pair's interaction is the
  variance of E[f | d1=c1, d2=c2] less both main effects, as a share of the variance of f
  (measured among the `PAIR_DECISIONS` most important decisions).

As in fANOVA, every share is computed per tree and averaged over the trees (a forest's mean
prediction is smoother than any of its trees and hides interactions: on NAS-Bench-201 it
puts the interaction share near 25% where the truth is 71%, the per-tree average near 65%);
each ± is the standard deviation of the quantity over the trees (each tree is fit on a
bootstrap sample of the trials). A marginal effect is linear in the prediction, so its mean
over trees is the forest's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nasforge.analysis.surrogate import DecisionForest
from nasforge.arch import Arch, Choice
from nasforge.errors import NasforgeError
from nasforge.space.base import SearchSpace

REFERENCE_SIZE = 256
"""Architectures drawn uniformly from the space to average the forest over."""
SHOWN_INTERACTIONS = 5
PAIR_DECISIONS = 8
"""Pairwise interactions are measured among this many of the most important decisions."""
UNRELIABLE_FIT = 0.2
"""At or below this rank correlation between the forest's out-of-bag predictions and the
measured values, the forest has learned too little for its decomposition to mean much. (A
rank correlation, not R²: on NAS-Bench-201 a few broken cells at 10% accuracy hold most of
the variance, and an R² near 0 hides a model that ranks the other trials well.)"""


class TooFewTrials(NasforgeError):
    """Too few finished trials (or too little variation) to tell which decisions matter."""


@dataclass(frozen=True)
class ChoiceEffect:
    choice: Choice
    effect: float
    """E[metric | this choice] less the average over the decision's choices (metric units)."""
    sd: float
    trials: int
    """How many of the trials made this choice."""


@dataclass(frozen=True)
class DecisionImportance:
    label: str
    importance: float
    """Share of the variance of the predicted metric that this decision explains alone."""
    sd: float
    effects: tuple[ChoiceEffect, ...]
    best: Choice
    """The choice with the best marginal effect (direction aware)."""


@dataclass(frozen=True)
class Interaction:
    first: str
    second: str
    share: float
    sd: float


@dataclass(frozen=True)
class Importance:
    metric: str
    direction: str
    trials: int
    decisions: tuple[DecisionImportance, ...]
    """Most important first."""
    interaction_share: float
    interaction_sd: float
    interactions: tuple[Interaction, ...]
    """The strongest pairwise interactions, strongest first."""
    fit_r2: float | None
    """Out-of-bag R² of the forest: how much of the variation between trials it predicts."""
    fit_rank: float | None
    """Spearman between the forest's out-of-bag predictions and the measured values."""
    mean: float
    """The forest's average prediction over the space."""
    warning: str | None = None
    notes: tuple[str, ...] = ()
    """What the trials cannot tell (`unseen_notes`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unreliable_fit(fit_rank: float | None) -> str | None:
    """The warning for a forest whose out-of-bag predictions hardly rank the trials."""
    if fit_rank is not None and fit_rank > UNRELIABLE_FIT:
        return None
    rank = "nan" if fit_rank is None else f"{fit_rank:.2f}"
    return (
        f"the model's out-of-bag predictions rank the trials with Spearman {rank} only: "
        "these results are not reliable; run more trials"
    )


def unseen_notes(model: DecisionForest, rows: np.ndarray, reference: np.ndarray) -> tuple[str, ...]:
    """One line per structure summary that every trial shares though the space does not
    (on NAS-Bench-201, typically: no trial is a cell without a live path)."""
    return tuple(
        f"every trial has {name} = {value:g}, though the space holds architectures with "
        "other values: what those score is extrapolated from the trials, not measured, and "
        "the effects of the choices that lead to them may be far off"
        for name, value in model.unseen_summaries(rows, reference).items()
    )


def minimum_trials(space: SearchSpace) -> int:
    """The fewest trials that can separate the decisions: one more than an additive model of
    them has free parameters, and at least 10."""
    return max(10, 1 + sum(len(d.choices) - 1 for d in space.decisions))


def decision_importance(
    space: SearchSpace,
    archs: Sequence[Arch],
    values: Sequence[float] | np.ndarray,
    *,
    metric: str = "metric",
    direction: str = "max",
    seed: int = 0,
    trees: int = 100,
    interactions: int = SHOWN_INTERACTIONS,
    min_trials: int | None = None,
) -> Importance:
    """How much each decision of `space` explains of `values` (one per arch); fewer than
    `min_trials` archs (default `minimum_trials(space)`) raise TooFewTrials."""
    model, rows, decomposition = fit_and_decompose(
        space, archs, values, metric=metric, seed=seed, trees=trees, min_trials=min_trials
    )
    total, main = decomposition.total, decomposition.main
    decisions = []
    for j, decision in enumerate(space.decisions):
        effects = tuple(
            ChoiceEffect(
                choice=choice,
                effect=float(main[j][1:, k].mean()),
                sd=float(main[j][1:, k].std()),
                trials=int(np.sum(rows[:, j] == k)),
            )
            for k, choice in enumerate(decision.choices)
        )
        shares = _share(main[j], total)
        ranked = sorted(effects, key=lambda e: e.effect, reverse=direction != "min")
        decisions.append(
            DecisionImportance(
                label=decision.label,
                importance=float(shares[1:].mean()),
                sd=float(shares[1:].std()),
                effects=effects,
                best=ranked[0].choice,
            )
        )
    first_order = np.sum([_share(effects, total) for effects in main], axis=0)
    pairs = []
    for (a, b), joint in decomposition.pairs.items():
        share = _pair_share(joint, main[a], main[b], total)
        pairs.append(
            Interaction(
                space.decisions[a].label,
                space.decisions[b].label,
                float(share[1:].mean()),
                float(share[1:].std()),
            )
        )
    pairs.sort(key=lambda p: -p.share)
    fit = model.oob_r2_
    warning = unreliable_fit(model.oob_rank_)
    return Importance(
        metric=metric,
        direction=direction,
        trials=len(archs),
        decisions=tuple(sorted(decisions, key=lambda d: -d.importance)),
        interaction_share=float(np.clip(1.0 - first_order[1:].mean(), 0.0, 1.0)),
        interaction_sd=float((1.0 - first_order[1:]).std()),
        interactions=tuple(pairs[:interactions]),
        fit_r2=fit,
        fit_rank=model.oob_rank_,
        mean=decomposition.mean,
        warning=warning,
        notes=unseen_notes(model, rows, decomposition.reference),
    )


def fit_and_decompose(
    space: SearchSpace,
    archs: Sequence[Arch],
    values: Sequence[float] | np.ndarray,
    *,
    metric: str = "metric",
    seed: int = 0,
    trees: int = 100,
    min_trials: int | None = None,
) -> tuple[DecisionForest, np.ndarray, Decomposition]:
    """The forest fit on the trials, their rows, and its decomposition over the space; raise
    TooFewTrials when the trials cannot separate the decisions (fewer than `min_trials`,
    default `minimum_trials(space)`: a caller that knows most decisions matter little, as on
    NAS-Bench-301's 32 decisions from 100 trials, may ask for less)."""
    values_ = np.asarray(values, dtype=np.float64)
    needed = minimum_trials(space) if min_trials is None else max(min_trials, 3)
    if len(archs) < needed:
        raise TooFewTrials(
            f"too few trials to tell which decisions matter: {len(archs)} with {metric}, "
            f"need at least {needed} for the {len(space.decisions)} decisions of space "
            f"{space.name!r}; run more trials"
        )
    if float(np.ptp(values_)) == 0.0:
        raise TooFewTrials(
            f"all {len(archs)} trials have the same {metric}: nothing to attribute to decisions"
        )
    model = DecisionForest(space, trees=trees, seed=seed)
    rows = model.rows(archs)
    model.fit(rows, values_)
    return model, rows, _decompose(model, np.random.default_rng(seed))


@dataclass(frozen=True)
class Decomposition:
    """Row 0 of every array: the forest's mean prediction; rows 1..: each tree."""

    total: np.ndarray
    """Variance over the space, shape (1 + trees,)."""
    main: list[np.ndarray]
    """Per decision, centered E[f | d=c], shape (1 + trees, choices)."""
    pairs: dict[tuple[int, int], np.ndarray]
    """Per pair of decisions, centered E[f | d1=c1, d2=c2], shape (1 + trees, c1, c2)."""
    mean: float
    reference: np.ndarray
    """The rows drawn uniformly from the space that the decomposition averages over."""


def _with_mean(predictions: np.ndarray) -> np.ndarray:
    return np.concatenate([predictions.mean(axis=0, keepdims=True), predictions])


def _decompose(model: DecisionForest, rng: np.random.Generator) -> Decomposition:
    reference = model.reference(REFERENCE_SIZE, rng)
    size = len(reference)
    sizes = [len(d.choices) for d in model.space.decisions]
    blocks = [model.with_choices(reference, {j: k}) for j, n in enumerate(sizes) for k in range(n)]
    predictions = _with_mean(model.tree_predictions(np.concatenate(blocks)))
    means = predictions.reshape(len(predictions), len(blocks), size).mean(axis=2)
    main, start = [], 0
    for n in sizes:
        block = means[:, start : start + n]
        main.append(block - block.mean(axis=1, keepdims=True))
        start += n
    # Every block of rows with one decision set is a uniform sample of the space stratified
    # on that decision; pooled, they estimate the variance more stably than the reference
    # alone (which can miss a rare combination that a block with it set does not).
    total = predictions.var(axis=1)
    shares = [float(_share(effects, total)[1:].mean()) for effects in main]
    ranked = sorted((j for j, n in enumerate(sizes) if n > 1), key=lambda j: -shares[j])
    pair_index = list(itertools.combinations(sorted(ranked[:PAIR_DECISIONS]), 2))
    pairs: dict[tuple[int, int], np.ndarray] = {}
    for a, b in pair_index:
        grid = [
            model.with_choices(reference, {a: i, b: k})
            for i in range(sizes[a])
            for k in range(sizes[b])
        ]
        joint = _with_mean(model.tree_predictions(np.concatenate(grid)))
        joint = joint.reshape(len(joint), sizes[a], sizes[b], size).mean(axis=3)
        pairs[(a, b)] = joint - joint.mean(axis=(1, 2), keepdims=True)
    return Decomposition(
        total=total,
        main=main,
        pairs=pairs,
        mean=float(predictions[0].mean()),
        reference=reference,
    )


def _share(effects: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Variance of effects over choices / total variance, per model (row)."""
    return np.asarray(np.mean(effects**2, axis=1) / np.maximum(total, 1e-300))


def _pair_share(
    joint: np.ndarray, first: np.ndarray, second: np.ndarray, total: np.ndarray
) -> np.ndarray:
    residual = joint - first[:, :, None] - second[:, None, :]
    return np.asarray(np.mean(residual**2, axis=(1, 2)) / np.maximum(total, 1e-300))
