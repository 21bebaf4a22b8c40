"""Evaluators, and the registry that rebuilds one from its stored name and settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.nb201_benchmark import NB201Benchmark, NB201Table
from nasforge.evaluate.result import Result, Status


def _nb201_benchmark(
    path: str | None = None, dataset: str = "cifar10", fidelity: int = 200
) -> Evaluator:
    return NB201Benchmark.from_csv(path, dataset=dataset, fidelity=fidelity)


EVALUATORS: dict[str, Callable[..., Evaluator]] = {NB201Benchmark.name: _nb201_benchmark}


def make_evaluator(name: str, **params: Any) -> Evaluator:
    """Build a registered evaluator by name (as stored in an experiment's config)."""
    try:
        factory = EVALUATORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown evaluator {name!r}; choose from {', '.join(EVALUATORS)}"
        ) from None
    return factory(**params)


__all__ = [
    "EVALUATORS",
    "Evaluator",
    "NB201Benchmark",
    "NB201Table",
    "Result",
    "Status",
    "make_evaluator",
]
