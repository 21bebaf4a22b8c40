"""Proxy evaluator: score an untrained candidate with zero-cost proxies instead of training it.

One evaluation builds the network once (weights drawn from ``seed``) and scores it with every
proxy on one fixed mini-batch: drawn from a task's training split (``batch_size`` examples,
``batch_seed``), or, without a task, no data at all (data-free proxies only). The result holds
one metric per proxy, named after it; the cost is the wall-clock seconds the evaluation took.
The budget is ignored: a proxy has no fidelity.

A score that is not finite (synflow of a network whose output ignores its input is -inf) is
still an ``ok`` result holding the value as is. Objectives give such a metric no score (the
worst), and a store keeps only finite metrics, so ``info["non_finite"]`` records those
values as text ("-inf", "nan") where they survive storage.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from typing import Any

from nasforge.arch import Arch
from nasforge.data.task import Task
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.proxies.base import ProxyBatch, ProxyError, check_proxy_names
from nasforge.proxies.scoring import score_arch
from nasforge.space.base import SearchSpace

DEFAULT_NUM_CLASSES = 10


def default_input_shape(space: SearchSpace) -> tuple[int, ...]:
    """The input shape ``space.build`` assumes when given none (3x32x32 for nb201)."""
    try:
        default = inspect.signature(space.build).parameters["input_shape"].default
    except (KeyError, TypeError, ValueError):
        default = inspect.Parameter.empty
    if default is inspect.Parameter.empty or default is None:  # a choice space keeps its own
        own = getattr(space, "input_shape", None)
        return tuple(int(n) for n in own) if own else (3, 32, 32)
    return tuple(int(n) for n in default)


def data_free_batch(
    space: SearchSpace,
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int = DEFAULT_NUM_CLASSES,
    size: int = 64,
) -> ProxyBatch:
    """A batch without data, for ``input_shape`` (default: the space's) and ``num_classes``."""
    shape = tuple(int(n) for n in input_shape) if input_shape is not None else None
    shape = shape or default_input_shape(space)
    if num_classes < 1:
        raise ProxyError(f"a proxy batch needs num_classes >= 1, not {num_classes}")
    if size < 1:
        raise ProxyError(f"a proxy batch needs a size >= 1, not {size}")
    space.check_input(shape)
    return ProxyBatch(input_shape=shape, num_classes=num_classes, size=size)


class ProxyEvaluator(Evaluator):
    """Scores each candidate with zero-cost proxies (one metric per proxy) instead of training.

    Give either ``batch`` (a ready `ProxyBatch`), or ``task`` (the batch is drawn from its
    training split), or neither (a data-free batch for ``input_shape``, default the space's).
    A proxy that needs data without a batch of data is a `ProxyError` here, not at evaluation.
    """

    name = "proxy"

    def __init__(
        self,
        space: SearchSpace,
        proxies: Sequence[str] = ("synflow",),
        *,
        batch: ProxyBatch | None = None,
        task: Task | None = None,
        batch_size: int = 64,
        batch_seed: int = 0,
        seed: int = 0,
        task_spec: dict[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
        num_classes: int = DEFAULT_NUM_CLASSES,
    ) -> None:
        names = [proxies] if isinstance(proxies, str) else list(proxies)
        if not names:
            raise ProxyError("a proxy evaluator needs at least one proxy")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ProxyError(f"proxy {', '.join(repeated)} is listed more than once")
        if batch is not None and task is not None:
            raise ConfigError("give a proxy evaluator a batch or a task, not both")
        if batch_size < 1:
            raise ProxyError(f"the proxy batch size must be >= 1, not {batch_size}")
        if task is not None:
            space.check_input(task.input_shape)
            batch = ProxyBatch.from_arrays(
                task.x_train, task.y_train, task.num_classes, size=batch_size, seed=batch_seed
            )
            task_spec = task_spec or {"name": task.name}
        elif batch is None:
            batch = data_free_batch(
                space, input_shape=input_shape, num_classes=num_classes, size=batch_size
            )
        else:
            space.check_input(batch.input_shape)
        check_proxy_names(names, batch)
        self.space = space
        self.proxies = tuple(names)
        self.batch = batch
        self.batch_size = batch_size
        self.batch_seed = batch_seed
        self.seed = seed
        self.task_spec = task_spec
        self.default_metric = self.proxies[0]

    def config(self) -> dict[str, Any]:
        if self.task_spec is None and self.batch.has_data:
            raise ConfigError(
                "a proxy evaluator built from a bare mini-batch of data cannot be stored or "
                "rebuilt; build it from a task instead"
            )
        return {
            "proxies": list(self.proxies),
            "task": self.task_spec,
            "batch_size": self.batch_size,
            "batch_seed": self.batch_seed,
            "seed": self.seed,
            "input_shape": list(self.batch.input_shape),
            "num_classes": self.batch.num_classes,
        }

    def metric_names(self) -> frozenset[str]:
        return frozenset(self.proxies)

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        """Every proxy's score of ``arch``'s untrained network; ``budget`` is ignored."""
        started = time.perf_counter()
        try:
            scored = score_arch(self.space, arch, self.proxies, self.batch, seed=self.seed)
        except (MemoryError, RuntimeError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return Result.failed(reason, cost=time.perf_counter() - started)
        metrics = {name: score for name, (score, _) in scored.items()}
        info: dict[str, Any] = {"seconds": {name: sec for name, (_, sec) in scored.items()}}
        non_finite = {name: repr(v) for name, v in metrics.items() if not math.isfinite(v)}
        if non_finite:
            info["non_finite"] = non_finite
        return Result(metrics=metrics, cost=time.perf_counter() - started, info=info)
