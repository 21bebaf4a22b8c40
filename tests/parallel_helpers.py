"""Evaluators and strategies for the parallel-trial tests; a module of its own so that
spawned worker processes can import them."""

from __future__ import annotations

import os
import signal
import time
import zlib
from pathlib import Path

from nasforge.arch import Arch
from nasforge.evaluate import NB201Benchmark, Result
from nasforge.evaluate.base import Evaluator
from nasforge.strategy.base import Proposal, Strategy


class SlowBenchmark(NB201Benchmark):
    """The NB201 table, `delay` seconds per query (so that trials overlap in time)."""

    delay = 0.05

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        time.sleep(self.delay)
        return super().evaluate(arch, budget)


class DeadlyBenchmark(SlowBenchmark):
    """Kills the worker process that evaluates `deadly` (as the OOM killer would)."""

    deadly = ""

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        if str(arch) == self.deadly:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(arch, budget)


class Repeating(Strategy):
    """Proposes each arch of a fixed list twice in a row."""

    name = "repeating"

    def __init__(self, space: object, archs: list[Arch]) -> None:
        super().__init__(space, seed=0)  # type: ignore[arg-type]
        self.archs = archs
        self.asked = 0

    def ask(self) -> Proposal:
        arch = self.archs[(self.asked // 2) % len(self.archs)]
        self.asked += 1
        return Proposal(arch)


class TimedBenchmark(NB201Benchmark):
    """NB201 lookups whose duration depends on the arch (0.02-0.17 s); `reverse` turns the
    durations around, so that the trials of one search finish in another order."""

    reverse = False

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        step = zlib.crc32(str(arch).encode()) % 4
        time.sleep(0.02 + 0.05 * (3 - step if self.reverse else step))
        return super().evaluate(arch, budget)


class VisibleGpu(Evaluator):
    """Metric ``gpu``: the worker's CUDA_VISIBLE_DEVICES (-1: unset). Each evaluation waits
    (up to a minute) until ``together`` evaluations have started, in files under ``folder``:
    so that they run at once, in as many workers."""

    def __init__(self, folder: str, together: int) -> None:
        self.folder = folder
        self.together = together

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        Path(self.folder, f"{os.getpid()}-{zlib.crc32(str(arch).encode())}").touch()
        deadline = time.monotonic() + 60
        while len(os.listdir(self.folder)) < self.together and time.monotonic() < deadline:
            time.sleep(0.02)
        return Result(metrics={"gpu": float(os.environ.get("CUDA_VISIBLE_DEVICES", "-1"))})
