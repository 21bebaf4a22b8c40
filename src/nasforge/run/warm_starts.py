"""A strategy warm-started before its search: from a zero-cost proxy's favourite archs, or
from a finished search of the same space on another task (`nasforge.run.transfer`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nasforge.errors import ConfigError
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Strategy

Progress = Callable[[int, int], None]


def transferred(
    text: str,
    strategy: str,
    options: dict[str, Any],
    space: SearchSpace,
    *,
    top: int,
    seed: int,
    on_note: Callable[[str], None] = lambda line: None,
) -> Strategy:
    """`strategy` warm-started from experiment ``STORE:NAME`` (see nasforge.run.transfer)."""
    from nasforge.run.transfer import load_transfer_source, transfer_strategy

    source = load_transfer_source(text, space, top=top)
    chosen = transfer_strategy(strategy, options, space, source, seed=seed)
    on_note(
        f"warm start from {source.source}: {len(source.prior)} prior archs inform the "
        f"strategy; its best {len(source.seeds)} are evaluated first"
    )
    return chosen


def proxy_warm_started(
    strategy: str,
    options: dict[str, Any],
    space: SearchSpace,
    evaluator: Any,
    proxies: list[str],
    *,
    sample: int,
    top: int,
    seed: int,
    on_progress: Progress = lambda done, total: None,
    on_note: Callable[[str], None] = lambda line: None,
) -> Strategy:
    """`strategy` wrapped in a WarmStart whose seeds are the best of `sample` random archs
    by `proxies`, scored on the task's mini-batch, or without data on the benchmark."""
    from nasforge.evaluate.training import TrainingEvaluator
    from nasforge.proxies import ProxyBatch, ProxyError, get_proxy, proxy_names
    from nasforge.proxies.warm_start import warm_start_strategy, zero_cost_seeds

    if strategy == "warm-start":
        raise ConfigError(
            "--warm-start wraps the strategy given with --strategy; choose that one, "
            "not warm-start itself"
        )
    if sample < 1 or top < 1:
        raise ConfigError(
            f"--warm-start-sample and --warm-start-top must be >= 1, not {sample} and {top}"
        )
    if isinstance(evaluator, TrainingEvaluator):
        task = evaluator.task
        batch = ProxyBatch.from_arrays(
            task.x_train, task.y_train, task.num_classes, size=64, seed=seed
        )
    else:
        batch = ProxyBatch(input_shape=(3, 32, 32), num_classes=10)
        needing = [name for name in proxies if get_proxy(name).needs_data]
        if needing:
            data_free = [name for name in proxy_names() if not get_proxy(name).needs_data]
            raise ProxyError(
                f"--warm-start {', '.join(needing)} needs a mini-batch of data, and a search on "
                f"the benchmark has no task to draw one from; use a data-free proxy: "
                f"{', '.join(data_free)}"
            )
    scored = [0]
    started = time.perf_counter()

    def counted(done: int, total: int) -> None:
        scored[0] = total
        on_progress(done, total)

    seeds = zero_cost_seeds(
        space, batch, proxies=proxies, sample=sample, top=top, seed=seed, on_progress=counted
    )
    seconds = time.perf_counter() - started
    how = proxies[0] if len(proxies) == 1 else "+".join(proxies) + " (average rank)"
    on_note(
        f"warm start: scored {scored[0]} archs with {how} in {seconds:.1f} s; "
        f"seeding {strategy} with {len(seeds)}"
    )
    return warm_start_strategy(strategy, space, seeds, seed=seed, **options)
