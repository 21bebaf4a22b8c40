"""Evaluators, and the registry that rebuilds one from its stored name and settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.nb201_benchmark import NB201Benchmark, NB201Table
from nasforge.evaluate.result import Result
from nasforge.evaluate.table_lookup import TableEvaluator, table_evaluator
from nasforge.space.base import SearchSpace
from nasforge.space.darts.space import DartsSpace
from nasforge.status import Status


def _nb201_benchmark(
    space: SearchSpace, path: str | None = None, dataset: str = "cifar10", fidelity: int = 200
) -> Evaluator:
    return NB201Benchmark.from_csv(path, dataset=dataset, fidelity=fidelity)


def _nb301(space: SearchSpace, path: str, fidelity: int = 98) -> Evaluator:
    from nasforge.evaluate.nb301 import NB301Surrogate, check_space

    check_space(space)
    assert isinstance(space, DartsSpace)
    return NB301Surrogate(path, fidelity=fidelity, space=space)


def _training(
    space: SearchSpace,
    task: dict[str, Any],
    train: dict[str, Any],
    time_limit: float | None = None,
    latency_repeats: int = 20,
    seed: int = 0,
    continue_from_checkpoints: bool = True,
    screen: list[dict[str, Any]] | None = None,
    latency_table: str | None = None,
) -> Evaluator:
    from nasforge.data.loaders import load_task
    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.training import TrainConfig

    loaded = load_task(
        task["name"], task.get("data"), seed=int(task.get("seed", 0)), **task.get("options", {})
    )
    return TrainingEvaluator(
        space,
        loaded,
        train_config=TrainConfig(**train),
        time_limit=time_limit,
        latency_repeats=latency_repeats,
        seed=seed,
        task_spec=task,
        continue_from_checkpoints=continue_from_checkpoints,
        screen=screen or [],
        latency_table=latency_table,
    )


def _proxy(
    space: SearchSpace,
    proxies: list[str],
    task: dict[str, Any] | None = None,
    batch_size: int = 64,
    batch_seed: int = 0,
    seed: int = 0,
    input_shape: list[int] | None = None,
    num_classes: int = 10,
) -> Evaluator:
    from nasforge.evaluate.proxy import ProxyEvaluator

    loaded = None
    if task is not None:
        from nasforge.data.loaders import load_task

        loaded = load_task(
            task["name"], task.get("data"), seed=int(task.get("seed", 0)), **task.get("options", {})
        )
    return ProxyEvaluator(
        space,
        proxies,
        task=loaded,
        task_spec=task,
        batch_size=batch_size,
        batch_seed=batch_seed,
        seed=seed,
        input_shape=None if loaded is not None else input_shape,
        num_classes=num_classes,
    )


EVALUATORS: dict[str, Callable[..., Evaluator]] = {
    NB201Benchmark.name: _nb201_benchmark,
    "train": _training,
    "proxy": _proxy,
    TableEvaluator.name: table_evaluator,
    "nb301": _nb301,
}


def make_evaluator(name: str, space: SearchSpace, **params: Any) -> Evaluator:
    """Build a registered evaluator by name (as stored in an experiment's config)."""
    try:
        factory = EVALUATORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown evaluator {name!r}; choose from {', '.join(EVALUATORS)}"
        ) from None
    return factory(space, **params)


__all__ = [
    "EVALUATORS",
    "Evaluator",
    "NB201Benchmark",
    "NB201Table",
    "Result",
    "Status",
    "TableEvaluator",
    "make_evaluator",
]
