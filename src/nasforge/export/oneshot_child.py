"""The child network a one-shot search found, with the supernet's weights: tested,
optionally fine-tuned, optionally saved in the model-folder format of ``nasforge train``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasforge.data.task import Task
    from nasforge.oneshot.result import OneShotResult
    from nasforge.space.base import SearchSpace

CALIBRATION_EXAMPLES = 2048
"""Training images the child's BatchNorm statistics are recomputed on."""


def export_child(
    result: OneShotResult,
    space: SearchSpace,
    task: Task,
    *,
    out: Path | None,
    finetune_epochs: int,
    finetune_lr: float,
    batch_size: int,
    seed: int,
    threads: int | None,
    device: str = "cpu",
    precision: str = "fp32",
    on_line: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """The child with inherited weights: its test accuracy and parameters ("child"), the
    fine-tuning's results ("finetune") and the folder it is saved in ("model_dir")."""
    from nasforge.export import save_model
    from nasforge.measure import count_parameters
    from nasforge.training import TrainConfig, Trainer

    child = result.child(task.x_train[:CALIBRATION_EXAMPLES], batch_size=batch_size, seed=seed)
    tester = Trainer(TrainConfig(threads=threads, seed=seed, device=device, precision=precision))
    inherited = 100.0 * tester.evaluate(child, task.x_test, task.y_test)
    exported: dict[str, Any] = {
        "child": {"test_accuracy": inherited, "params": count_parameters(child)},
        "finetune": None,
        "model_dir": None,
    }
    metrics = {"test_accuracy": inherited, "params": float(count_parameters(child))}
    train_config: dict[str, Any] = {"inherited_from": "oneshot supernet"}
    if finetune_epochs > 0:
        config = TrainConfig(
            epochs=finetune_epochs,
            batch_size=batch_size,
            lr=finetune_lr,
            threads=threads,
            seed=seed,
            device=device,
            precision=precision,
        )
        on_line(f"Fine-tuning the child with inherited weights for {finetune_epochs} epochs ...")
        trainer = Trainer(config)
        report = trainer.fit(child, task)
        tuned = 100.0 * trainer.evaluate(child, task.x_test, task.y_test)
        exported["finetune"] = {
            "epochs": report.epochs_run,
            "test_accuracy": tuned,
            "valid_accuracy": 100.0 * report.last_valid_accuracy,
            "seconds": report.seconds,
        }
        metrics.update(
            test_accuracy=tuned,
            valid_accuracy=100.0 * report.last_valid_accuracy,
            epochs=float(report.epochs_run),
        )
        train_config = {**dataclasses.asdict(config), **train_config}
    if out is not None:
        folder = save_model(
            out,
            space=space,
            arch=result.arch,
            model=child,
            task=task,
            metrics=metrics,
            train_config=train_config,
            overwrite=True,
        )
        exported["model_dir"] = str(folder)
    return exported
