"""Ensembles of the best: retrain several of a search's best distinct archs, average them.

`retrain_ensemble` retrains candidates from scratch as the final retrain does for the winner
(`nasforge.evaluate.training.retrain`) and chooses `k` of them:

- ``top``: the `k` best distinct archs by the search's validation score;
- ``forward``: Neural Ensemble Search's forward selection (Zaidi et al. 2021, after Caruana
  et al. 2004): retrain a pool of the ``2 k`` best, then, starting from none, add the pool
  member that most lowers the ensemble's validation loss (the negative log-likelihood of
  the averaged probabilities), `k` times, without repeats. It costs twice the retraining and
  needs a validation split the retrain does not train on (no validation groups).

The ensemble's probabilities are the mean of its members' softmax probabilities
(`nasforge.export.ensemble_net.EnsembleNet` saves them as one network).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from nasforge.arch import Arch
from nasforge.errors import ConfigError
from nasforge.evaluate.training import Retrained, TrainingEvaluator, retrain

SELECTIONS = ("top", "forward")
FORWARD_NEEDS_HELD_OUT = (
    "--ensemble-selection forward chooses members on the validation split, which "
    "--final-data all retrains on; give --final-data train, or --ensemble-selection top"
)
"""Why forward selection is refused when the members retrain on the validation split."""
"""How `retrain_ensemble` chooses members: the best k, or forward selection from 2 k."""
POOL_FACTOR = 2
"""Forward selection chooses from the ``POOL_FACTOR * k`` best distinct archs."""

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RetrainedEnsemble:
    """The chosen members (best validation score first for ``top``, in order of selection
    for ``forward``) and what the ensemble of them measured (accuracies in %)."""

    members: tuple[Retrained, ...]
    archs: tuple[Arch, ...]
    selection: str
    pool: tuple[Arch, ...]
    """Every arch retrained to choose from (the members for ``top``)."""
    valid_accuracy: float
    test_accuracy: float
    member_valid_accuracy: tuple[float, ...]


def check_ensemble(k: int, selection: str, *, available: int | None = None) -> None:
    """ConfigError for an ensemble size below 1, an unknown selection, or more members than
    the `available` distinct evaluated archs."""
    if k < 1:
        raise ConfigError(f"--ensemble must be >= 1 (1: the winner alone), not {k}")
    if selection not in SELECTIONS:
        raise ConfigError(
            f"unknown ensemble selection {selection!r}; choose from {', '.join(SELECTIONS)}"
        )
    if available is not None and k > available:
        raise ConfigError(
            f"--ensemble {k} needs {k} distinct evaluated architectures, but the search has "
            f"{available}; give a larger --budget or a smaller --ensemble"
        )


def check_selection_fits(
    evaluator: TrainingEvaluator, k: int, selection: str, *, with_validation: bool
) -> None:
    """ConfigError for forward selection when the retrain trains on the validation split
    (`with_validation`): it could not choose on held-out predictions."""
    if k > 1 and selection == "forward" and with_validation and len(evaluator.task.y_valid):
        raise ConfigError(FORWARD_NEEDS_HELD_OUT)


def pool_size(k: int, selection: str) -> int:
    """How many of the best distinct archs `retrain_ensemble` retrains for `k` members."""
    return POOL_FACTOR * k if selection == "forward" and k > 1 else k


def retrain_ensemble(
    evaluator: TrainingEvaluator,
    ranked: Sequence[Arch],
    k: int,
    epochs: int,
    *,
    with_validation: bool,
    selection: str = "top",
    on_member: Callable[[int, int, Arch], None] | None = None,
) -> RetrainedEnsemble:
    """Retrain the first ``pool_size(k, selection)`` of `ranked` (distinct archs, best first)
    for `epochs` each (`with_validation`: on the training and validation splits together,
    `retrain`), choose `k` members, and measure the ensemble on validation and test.

    `on_member(i, n, arch)` is called before retraining the i-th (from 1) of n."""
    check_ensemble(k, selection, available=len(ranked))
    check_selection_fits(evaluator, k, selection, with_validation=with_validation)
    task = evaluator.task
    pool = list(ranked[: min(len(ranked), pool_size(k, selection))])
    retrained: list[Retrained] = []
    for i, arch in enumerate(pool):
        if on_member is not None:
            on_member(i + 1, len(pool), arch)
        retrained.append(retrain(evaluator, arch, epochs, with_validation=with_validation))
    valid = [class_probabilities(r.model, task.x_valid) for r in retrained]
    chosen = forward_selection(valid, task.y_valid, k) if selection == "forward" else list(range(k))
    members = [retrained[i] for i in chosen]
    test = [class_probabilities(r.model, task.x_test) for r in members]
    return RetrainedEnsemble(
        members=tuple(members),
        archs=tuple(pool[i] for i in chosen),
        selection=selection,
        pool=tuple(pool),
        valid_accuracy=accuracy(np.mean([valid[i] for i in chosen], axis=0), task.y_valid),
        test_accuracy=accuracy(np.mean(test, axis=0), task.y_test),
        member_valid_accuracy=tuple(accuracy(valid[i], task.y_valid) for i in chosen),
    )


def forward_selection(
    probabilities: Sequence[FloatArray], labels: npt.ArrayLike, k: int
) -> list[int]:
    """Indices of `k` of the candidates' probability arrays ``(N, classes)``, chosen one at a
    time to minimize the negative log-likelihood of their mean on `labels` (ties: the
    earlier candidate, that is the better-ranked one)."""
    if not 1 <= k <= len(probabilities):
        raise ConfigError(f"cannot choose {k} of {len(probabilities)} candidates")
    y = np.asarray(labels, dtype=np.int64)
    chosen: list[int] = []
    total = np.zeros_like(probabilities[0], dtype=np.float64)
    for _ in range(k):
        losses = [
            (negative_log_likelihood((total + p) / (len(chosen) + 1), y), i)
            for i, p in enumerate(probabilities)
            if i not in chosen
        ]
        best = min(losses)[1]
        chosen.append(best)
        total += probabilities[best]
    return chosen


def negative_log_likelihood(
    probabilities: npt.NDArray[np.floating], labels: npt.ArrayLike
) -> float:
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 0.0
    picked = probabilities[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def accuracy(probabilities: npt.NDArray[np.floating], labels: npt.ArrayLike) -> float:
    """Accuracy (%) of the most probable class."""
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 0.0
    return 100.0 * float(np.mean(probabilities.argmax(axis=1) == y))


def class_probabilities(
    model: torch.nn.Module, x: npt.ArrayLike, batch_size: int = 256
) -> FloatArray:
    """Softmax probabilities ``(N, classes)`` of `model` (in eval mode) for normalized `x`."""
    inputs = torch.from_numpy(np.array(x, dtype=np.float32))
    device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    parts = []
    with torch.inference_mode():
        for xb in torch.split(inputs, batch_size):
            parts.append(torch.softmax(model(xb.to(device)), dim=1).cpu().numpy())
    model.train(was_training)
    if not parts:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)
