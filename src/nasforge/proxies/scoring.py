"""Scoring many architectures of a space: the batch job behind `nasforge proxies`.

What is reused between candidates: architectures that compute the same function (the same
`space.canonical` form) are scored once; each network is built once and copied for each
proxy; the mini-batch is shared. Work is spread over worker processes (each with its own
torch thread count), results stream back in chunks for a progress bar, and every score can
go to a `ScoreCache` as soon as it exists. Each network's weights are drawn from ``seed``
alone, so a score does not depend on the order, the chunking or the number of workers.
"""

from __future__ import annotations

import copy
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from nasforge.arch import Arch
from nasforge.device import resolve_device, resolve_settings
from nasforge.proxies.base import ProxyBatch, check_logits, check_proxy_names, run_proxy, seeded
from nasforge.proxies.cache import ScoreCache
from nasforge.space.base import SearchSpace

ProgressCallback = Callable[[int, int], None]
"""Called with (architectures done, total) as chunks finish."""


@dataclass
class ProxyScores:
    """Scores of ``archs`` (in order): ``scores[proxy][i]`` and the seconds it took."""

    archs: list[Arch]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, np.ndarray] = field(default_factory=dict)
    wall_seconds: float = 0.0
    computed: int = 0
    """How many distinct networks were scored in this call (not found in the cache)."""


@dataclass(frozen=True)
class _Job:
    space: SearchSpace
    proxies: tuple[str, ...]
    batch: ProxyBatch
    seed: int
    device: str = "cpu"
    precision: str = "fp32"


def score_archs(
    space: SearchSpace,
    archs: Sequence[Arch],
    proxies: Sequence[str],
    batch: ProxyBatch,
    *,
    seed: int = 0,
    workers: int = 1,
    threads: int = 1,
    share_isomorphic: bool = True,
    chunk_size: int = 8,
    cache: ScoreCache | None = None,
    context: str = "",
    on_progress: ProgressCallback | None = None,
    device: str = "auto",
    precision: str = "fp32",
) -> ProxyScores:
    """Score every arch with every proxy; see the module docstring for what is reused.

    Networks are built on the CPU (the same weights on any device for a seed), then
    scored on ``device`` (``auto``: a GPU if torch sees one) under ``precision``'s
    autocast (`nasforge.proxies.base.run_proxy`)."""
    placed, precision = resolve_settings(device, precision)
    names = tuple(proxies)
    check_proxy_names(list(names), batch)
    archs = [space.validate(arch) for arch in archs]
    if archs:
        with seeded(seed):
            check_logits(space.build(archs[0], batch.input_shape, batch.num_classes), batch)
    keys = [space.format(space.canonical(a) if share_isomorphic else a) for a in archs]
    representative: dict[str, Arch] = {}
    for key, arch in zip(keys, archs, strict=True):
        representative.setdefault(key, space.canonical(arch) if share_isomorphic else arch)

    found: dict[str, dict[str, tuple[float, float]]] = {}
    todo: list[str] = []
    for key in representative:
        cached = {n: cache.get(key, n, context) for n in names} if cache is not None else {}
        if cache is not None and all(v is not None for v in cached.values()):
            found[key] = {n: v for n, v in cached.items() if v is not None}
        else:
            todo.append(key)

    started = time.perf_counter()
    total = len(representative)
    done = total - len(todo)
    if on_progress is not None:
        on_progress(done, total)
    job = _Job(space, names, batch, seed, placed, precision)
    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
    for chunk, results in _run_chunks(job, chunks, representative, workers, threads):
        for key, result in zip(chunk, results, strict=True):
            found[key] = result
        if cache is not None:
            cache.add(
                (key, n, context, result[n][0], result[n][1])
                for key, result in zip(chunk, results, strict=True)
                for n in names
            )
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)

    output = ProxyScores(
        archs=archs, wall_seconds=time.perf_counter() - started, computed=len(todo)
    )
    for n in names:
        output.scores[n] = np.array([found[key][n][0] for key in keys], dtype=np.float64)
        output.seconds[n] = np.array([found[key][n][1] for key in keys], dtype=np.float64)
    return output


def _run_chunks(
    job: _Job,
    chunks: list[list[str]],
    representative: dict[str, Arch],
    workers: int,
    threads: int,
) -> Iterator[tuple[list[str], list[dict[str, tuple[float, float]]]]]:
    """(chunk keys, their results), in chunk order, as chunks finish."""
    arch_chunks = [[representative[key] for key in chunk] for chunk in chunks]
    if workers <= 1 or len(chunks) <= 1:
        for keys, archs in zip(chunks, arch_chunks, strict=True):
            yield keys, _score_chunk_here(job, archs, threads)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(_score_chunk, job, archs) for archs in arch_chunks]
        try:
            for keys, future in zip(chunks, futures, strict=True):
                yield keys, future.result()
        finally:
            for future in futures:
                future.cancel()


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def _score_chunk_here(
    job: _Job, archs: list[Arch], threads: int
) -> list[dict[str, tuple[float, float]]]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _score_chunk(job, archs)
    finally:
        torch.set_num_threads(previous)


def _score_chunk(job: _Job, archs: list[Arch]) -> list[dict[str, tuple[float, float]]]:
    return [
        score_arch(
            job.space,
            arch,
            job.proxies,
            job.batch,
            seed=job.seed,
            device=job.device,
            precision=job.precision,
        )
        for arch in archs
    ]


def score_arch(
    space: SearchSpace,
    arch: Arch,
    proxies: Sequence[str],
    batch: ProxyBatch,
    *,
    seed: int = 0,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict[str, tuple[float, float]]:
    """(score, seconds) of one arch for each proxy; the network is built once, seeded, on
    the CPU, and moved to ``device`` with the batch."""
    chosen = check_proxy_names(list(proxies), batch)
    torch.set_flush_denormal(True)  # as in training: denormal weights slow the CPU ~10x
    placed = resolve_device(device)
    with seeded(seed):
        network = space.build(arch, batch.input_shape, batch.num_classes).to(placed)
    batch = batch.to(placed)
    result: dict[str, tuple[float, float]] = {}
    for position, proxy in enumerate(chosen):
        started = time.perf_counter()
        own = network if position == len(chosen) - 1 else copy.deepcopy(network)
        score = run_proxy(proxy, own, batch, seed=seed, precision=precision)
        result[proxy.name] = (score, time.perf_counter() - started)
    return result
