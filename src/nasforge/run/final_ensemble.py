"""The final step of a search with ``ensemble`` > 1: retrain the best distinct archs, save
their ensemble as one model folder, and say what each member and the ensemble measured.

`ensemble_final` is what `nasforge search --ensemble K` calls after the search; the record
it returns is the search's ``final`` (CLI text, ``--json``, the store, the HTML report):
``test_accuracy`` and ``valid_accuracy`` are the ensemble's, ``members`` lists each member's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate.ensemble import RetrainedEnsemble, retrain_ensemble
from nasforge.evaluate.training import TrainingEvaluator
from nasforge.export.ensemble_net import EnsembleNet
from nasforge.export.saving import save_ensemble
from nasforge.measure import count_parameters
from nasforge.run.results import SearchResult
from nasforge.space.base import SearchSpace


def ensemble_final(
    space: SearchSpace,
    evaluator: TrainingEvaluator,
    result: SearchResult,
    k: int,
    epochs: int,
    out: Path,
    *,
    selection: str = "top",
    with_validation: bool = True,
    on_member: Callable[[int, int, Arch], None] | None = None,
) -> dict[str, Any]:
    """Retrain `k` of the search's best distinct archs (`retrain_ensemble`; `with_validation`:
    on the training and validation splits together), save their
    ensemble to `out` and return the ``final`` record (ConfigError, before any training,
    when the search has fewer than `k` distinct evaluated archs)."""
    ranked = result.distinct_ranked(space)
    retrained = retrain_ensemble(
        evaluator,
        ranked,
        k,
        epochs,
        selection=selection,
        with_validation=with_validation,
        on_member=on_member,
    )
    return save_retrained_ensemble(space, evaluator, retrained, out)


def save_retrained_ensemble(
    space: SearchSpace, evaluator: TrainingEvaluator, retrained: RetrainedEnsemble, out: Path
) -> dict[str, Any]:
    """Save `retrained` as one model folder at `out`; its ``final`` record."""
    network = EnsembleNet([member.model for member in retrained.members])
    members = [
        {
            "arch": space.format(arch),
            "arch_text": str(arch),
            "test_accuracy": member.test_accuracy,
            "valid_accuracy": valid,
            "epochs": member.report.epochs_run,
            "status": member.report.status.value,
        }
        for arch, member, valid in zip(
            retrained.archs, retrained.members, retrained.member_valid_accuracy, strict=True
        )
    ]
    metrics: dict[str, float] = {
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": retrained.valid_accuracy,
        "epochs": float(min(m.report.epochs_run for m in retrained.members)),
        "params": float(count_parameters(network)),
        "train_seconds": sum(m.report.seconds for m in retrained.members),
        "members": float(len(members)),
        **{
            f"member_{i}_test_accuracy": member.test_accuracy
            for i, member in enumerate(retrained.members)
        },
    }
    folder = save_ensemble(
        out,
        space=space,
        archs=retrained.archs,
        model=network,
        task=evaluator.task,
        metrics=metrics,
        train_configs=[dataclasses.asdict(m.config) for m in retrained.members],
        overwrite=True,
    )
    statuses = {m["status"] for m in members}
    return {
        "arch": f"ensemble of {len(members)} ({retrained.selection} selection)",
        "epochs": min(m["epochs"] for m in members),
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": retrained.valid_accuracy,
        "model_dir": str(folder),
        "valid_trained": any(m.with_validation for m in retrained.members),
        "ensemble": len(members),
        "selection": retrained.selection,
        "retrained": len(retrained.pool),
        "members": members,
    }
