"""The winner of a search retrained from scratch, tested and saved as a model folder."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.space.base import SearchSpace


def retrain_and_save(
    experiment: Any,
    arch: Arch,
    epochs: int,
    out: Path,
    *,
    with_validation: bool = True,
    on_start: Callable[[str], None] | None = None,
) -> dict[str, Any] | None:
    """Retrain ``arch`` from scratch for ``epochs`` (`with_validation`: on the training and
    validation splits together), test it and save it in ``out`` (its summary,
    `save_retrained`); None for an experiment whose evaluator does not train.
    ``on_start`` hears one line before the training starts."""
    from nasforge.evaluate.training import TrainingEvaluator, retrain

    evaluator = experiment.evaluator
    if not isinstance(evaluator, TrainingEvaluator):
        return None
    if on_start is not None:
        data = "training + validation" if with_validation else "training"
        on_start(f"Retraining the winner from scratch for {epochs} epochs on the {data} data ...")
    retrained = retrain(evaluator, arch, epochs, with_validation=with_validation)
    return save_retrained(experiment.space, arch, evaluator, retrained, out)


def retrain_ensemble_and_save(
    experiment: Any,
    result: Any,
    k: int,
    selection: str,
    epochs: int,
    out: Path,
    *,
    with_validation: bool = True,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The ensemble of the ``k`` best distinct archs, retrained and saved
    (`nasforge.run.final_ensemble.ensemble_final`); ``on_line`` hears one line a member."""
    from nasforge.run.final_ensemble import ensemble_final

    def on_member(i: int, n: int, arch: Arch) -> None:
        if on_line is not None:
            on_line(
                f"Retraining {i}/{n} for the ensemble from scratch for {epochs} epochs: "
                f"{experiment.space.format(arch)}"
            )

    return ensemble_final(
        experiment.space,
        experiment.evaluator,
        result,
        k,
        epochs,
        out,
        selection=selection,
        with_validation=with_validation,
        on_member=on_member,
    )


def save_retrained(
    space: SearchSpace, arch: Arch, evaluator: Any, retrained: Any, out: Path
) -> dict[str, Any]:
    """Save a retrained network (`nasforge.evaluate.training.retrain`) in ``out``; its
    summary: arch, epochs, status, test and validation accuracy, model folder."""
    from nasforge.export import save_model
    from nasforge.measure import count_parameters

    metrics = {
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": 100.0 * retrained.report.last_valid_accuracy,
        "epochs": float(retrained.report.epochs_run),
        "params": float(count_parameters(retrained.model)),
        "train_seconds": retrained.report.seconds,
    }
    folder = save_model(
        out,
        space=space,
        arch=arch,
        model=retrained.model,
        task=evaluator.task,
        metrics=metrics,
        train_config=dataclasses.asdict(retrained.config),
        overwrite=True,
    )
    return {
        "arch": space.format(arch),
        "epochs": retrained.report.epochs_run,
        "status": retrained.report.status.value,
        "test_accuracy": retrained.test_accuracy,
        "valid_accuracy": metrics["valid_accuracy"],
        "model_dir": str(folder),
        # the validation split trained too (Task.for_final_training): not held out
        "valid_trained": retrained.with_validation,
    }
