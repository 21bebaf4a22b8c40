"""Assemble a space and an evaluator from names and plain settings (for the CLI and configs)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError, SpaceError
from nasforge.evaluate.base import Evaluator
from nasforge.space import SPACES, is_spec, make_space, spaces_fitting
from nasforge.space.base import SearchSpace

if TYPE_CHECKING:
    from nasforge.data.task import Task
    from nasforge.data.task_options import TaskOptions
    from nasforge.evaluate.training import TrainingEvaluator

TRAIN_SPACE_DEFAULTS: dict[str, dict[str, Any]] = {"nb201": {"channels": 8, "cells_per_stage": 1}}
"""Space settings that fit a CPU when candidates are trained (NB201's own C=16, N=5 does not)."""


def default_space_name(input_shape: tuple[int, ...], task: Task | None = None) -> str:
    """nb201 for images, conv1d for sequences, textconv for texts, mlp for tables."""
    if task is not None and task.vocabulary_size is not None:
        return "textconv"
    if len(input_shape) == 3:
        return "nb201"
    if len(input_shape) == 2:
        return "conv1d"
    return "mlp"


def task_space_params(task: Task, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with what the task decides for a registered space: a text space's
    ``vocab_size`` (its tokenizer's), unless given."""
    vocabulary = task.vocabulary_size
    if vocabulary is None or "vocab_size" in params or is_spec(name) or name not in SPACES:
        return dict(params)
    if "vocab_size" not in inspect.signature(SPACES[name]).parameters:
        return dict(params)
    return {**params, "vocab_size": vocabulary}


def build_space(
    name: str, params: dict[str, Any], hyperparameters: dict[str, list[Any]]
) -> SearchSpace:
    if hyperparameters:
        return make_space(name, **params, hyperparameters=hyperparameters)
    return make_space(name, **params)


def training_evaluator(
    task_name: str,
    data: Path | None,
    space_name: str | None,
    space_params: dict[str, Any],
    hyperparameters: dict[str, list[Any]],
    *,
    label_column: str | None = None,
    task_options: dict[str, Any] | None = None,
    epochs: int = 8,
    lr: float = 0.05,
    batch_size: int = 64,
    augment: bool | None = None,
    threads: int | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    screen: list[dict[str, Any]] | None = None,
    latency_table: str | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> tuple[SearchSpace, Evaluator]:
    """The space and the training evaluator for a built-in task; `screen` limits metrics
    known before training (params, flops, latency_ms_predicted with `latency_table`), so a
    candidate that breaks one is not trained. Candidates train on ``device`` in
    ``precision`` (`nasforge.device`)."""
    task, make_evaluator = training_evaluator_factory(
        task_name,
        data,
        label_column=label_column,
        task_options=task_options,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment,
        threads=threads,
        time_limit=time_limit,
        seed=seed,
        screen=screen,
        latency_table=latency_table,
        device=device,
        precision=precision,
    )
    name = space_name or default_space_name(task.input_shape, task)
    params = task_space_params(task, name, {**TRAIN_SPACE_DEFAULTS.get(name, {}), **space_params})
    space = build_space(name, params, hyperparameters)
    try:
        space.check_input(task.input_shape)
    except SpaceError as exc:
        if is_spec(name):  # the user's own space: the error names it and the shape
            raise
        fitting = ", ".join(spaces_fitting(task.input_shape)) or "none"
        raise SpaceError(f"{exc}; spaces that fit task {task_name!r}: {fitting}") from None
    return space, make_evaluator(space)


def task_training_evaluator(
    options: TaskOptions,
    space_name: str | None,
    space_params: dict[str, Any],
    hyperparameters: dict[str, list[Any]],
    **training: Any,
) -> tuple[SearchSpace, Evaluator]:
    """`training_evaluator` for the task that `options` names; `training` holds its keyword
    settings (epochs, lr, batch_size, seed, device ...)."""
    return training_evaluator(
        options.name,
        options.data,
        space_name,
        space_params,
        hyperparameters,
        label_column=options.label_column,
        task_options=options.loader_options(),
        **training,
    )


def training_evaluator_factory(
    task_name: str,
    data: Path | None,
    *,
    label_column: str | None = None,
    task_options: dict[str, Any] | None = None,
    epochs: int = 8,
    lr: float = 0.05,
    batch_size: int = 64,
    augment: bool | None = None,
    threads: int | None = None,
    time_limit: float | None = None,
    seed: int = 0,
    screen: list[dict[str, Any]] | None = None,
    latency_table: str | None = None,
    device: str = "auto",
    precision: str = "auto",
) -> tuple[Task, Callable[[SearchSpace], TrainingEvaluator]]:
    """A built-in task, loaded once, and a maker of its training evaluator for any space
    (compound scaling trains one space per point)."""
    from nasforge.data.loaders import load_task
    from nasforge.data.task_options import resolve_data
    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.training import TrainConfig

    config = TrainConfig(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment,
        threads=threads,
        device=device,
        precision=precision,
    )
    options = {"label_column": label_column} if label_column else {}
    options.update(task_options or {})
    resolved = resolve_data(data)
    task = load_task(task_name, resolved, seed=0, **options)
    spec = {"name": task_name, "data": resolved, "seed": 0, "options": options}

    def make(space: SearchSpace) -> TrainingEvaluator:
        return TrainingEvaluator(
            space,
            task,
            train_config=config,
            time_limit=time_limit,
            seed=seed,
            task_spec=spec,
            screen=screen or [],
            latency_table=latency_table,
        )

    return task, make


def benchmark_evaluator(
    space_name: str,
    space_params: dict[str, Any],
    hyperparameters: dict[str, list[Any]],
    path: str | None,
    *,
    dataset: str = "cifar10",
    fidelity: int = 200,
) -> tuple[SearchSpace, Evaluator]:
    """The nb201 space and the NAS-Bench-201 table as its evaluator."""
    from nasforge.evaluate.nb201_benchmark import NB201Benchmark

    if space_name not in SPACES and not is_spec(space_name):
        raise SpaceError(f"unknown search space {space_name!r}; choose from {', '.join(SPACES)}")
    if space_name != "nb201":
        raise ConfigError(
            f"the NAS-Bench-201 benchmark covers space 'nb201' only, not {space_name!r}"
        )
    if hyperparameters:
        raise ConfigError("the NAS-Bench-201 table has no hyperparameters to search: drop --hp")
    space = make_space("nb201", **space_params)
    return space, NB201Benchmark.from_csv(path, dataset=dataset, fidelity=fidelity)


def default_workers(evaluator: Evaluator) -> int:
    """Evaluations at once when the user names none: one per core for trained candidates
    (the machine's cores are then shared out as one torch thread each), one otherwise (a
    table lookup or a proxy costs less than shipping it to another process)."""
    from nasforge.evaluate.training import TrainingEvaluator

    if isinstance(evaluator, TrainingEvaluator):
        return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))
    return 1


MAX_DEFAULT_WORKERS = 8


def trial_gpus(evaluator: Evaluator) -> int:
    """GPUs that local worker processes take one each (`nasforge.device.trial_devices`):
    every GPU torch sees when the evaluator trains on ``cuda`` without a number, else 0."""
    from nasforge.evaluate.training import TrainingEvaluator

    if not isinstance(evaluator, TrainingEvaluator) or evaluator.train_config.device != "cuda":
        return 0
    from nasforge.device import visible_gpus

    return visible_gpus()
