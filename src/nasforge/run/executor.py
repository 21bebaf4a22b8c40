"""Executors: where the experiment's evaluations run.

The experiment submits `Job`s (a trial number, an arch and a budget) and waits for `Done`s.
`InlineExecutor` evaluates in the calling process, one job at a time, exactly as a plain
loop would; `ProcessExecutor` (`run/process_executor.py`) runs several jobs at once in local
worker processes; `RayExecutor` (`run/ray_executor.py`) runs them as tasks on a Ray cluster.
An executor never decides what runs next, and never writes to the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from nasforge.arch import Arch
from nasforge.errors import ConfigError, NasforgeError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result


@dataclass(frozen=True)
class Job:
    """One evaluation to run: trial `number` measures `arch` at `budget`."""

    number: int
    arch: Arch
    budget: float | None


@dataclass(frozen=True)
class Done:
    """The result of the job of trial `number`."""

    number: int
    result: Result


def evaluate_safely(evaluator: Evaluator, arch: Arch, budget: float | None) -> Result:
    """The evaluator's result; any exception becomes a failed result (it ends the trial, not
    the search)."""
    try:
        return evaluator.evaluate(arch, budget)
    except NasforgeError as exc:
        return Result.failed(str(exc))
    except Exception as exc:
        return Result.failed(f"{type(exc).__name__}: {exc}")


class Executor(ABC):
    """Runs up to `workers` jobs at once for one evaluator."""

    workers: int = 1

    @abstractmethod
    def start(self, evaluator: Evaluator) -> None:
        """Get ready to evaluate with `evaluator` (start workers, ship it to them)."""

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start `job`; called only while fewer than `workers` jobs are running."""

    @abstractmethod
    def wait(self) -> list[Done]:
        """Block until at least one running job is done; return every finished one."""

    @property
    @abstractmethod
    def running(self) -> int:
        """Jobs submitted and not yet returned by `wait`."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Stop the workers; running jobs are abandoned."""

    def kill(self) -> None:  # noqa: B027 - nothing to kill by default
        """End the workers at once (a second signal while `close` waits for them); must be
        safe to call from a signal handler."""

    def has_room(self) -> bool:
        return self.running < self.workers

    def describe(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class InlineExecutor(Executor):
    """Evaluates in this process, one job at a time, when `wait` is called."""

    def __init__(self) -> None:
        self.workers = 1
        self._evaluator: Evaluator | None = None
        self._queue: deque[Job] = deque()

    def start(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self) -> list[Done]:
        if self._evaluator is None:
            raise RuntimeError("InlineExecutor.wait() before start()")
        job = self._queue.popleft()
        return [Done(job.number, evaluate_safely(self._evaluator, job.arch, job.budget))]

    @property
    def running(self) -> int:
        return len(self._queue)


EXECUTORS = ("local", "ray")


def make_executor(
    kind: str = "local",
    *,
    workers: int | None = 1,
    threads_per_worker: int | None = None,
    ray_address: str | None = None,
    gpus: int = 0,
    gpus_per_trial: float = 0.0,
) -> Executor:
    """An executor by name: ``local`` (inline for one worker, else a process pool whose
    workers take the ``gpus`` GPUs round-robin, one each) or ``ray`` (a Ray cluster at
    `ray_address`, or a local Ray instance without one; ``gpus_per_trial`` reserved for
    each trial, fractions allowed)."""
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if kind == "local" and ray_address is not None:
        raise ConfigError("--ray-address goes with --executor ray")
    if kind == "local" and gpus_per_trial:
        raise ConfigError(
            "--gpus-per-trial goes with --executor ray (local workers take one GPU each)"
        )
    if kind == "ray":
        from nasforge.run.ray_executor import RayExecutor

        return RayExecutor(
            workers=workers,
            address=ray_address,
            threads_per_trial=threads_per_worker or 1,
            gpus_per_trial=gpus_per_trial,
        )
    if workers is None or workers == 1:
        return InlineExecutor()
    from nasforge.run.process_executor import ProcessExecutor

    return ProcessExecutor(workers, threads_per_worker=threads_per_worker, gpus=gpus)


def check_executor(
    kind: str, workers: int | None, ray_address: str | None, gpus_per_trial: float = 0.0
) -> None:
    """Refuse bad executor settings before anything runs: one-line ConfigErrors for a bad
    kind or worker count, Ray not installed, no Ray cluster answering at the address, or
    GPUs per trial asked of a local Ray instance on a machine without a GPU."""
    executor = make_executor(
        kind, workers=workers, ray_address=ray_address, gpus_per_trial=gpus_per_trial
    )
    if kind == "ray" and ray_address is None and gpus_per_trial:
        from nasforge.device import check_gpus_per_trial, visible_gpus

        check_gpus_per_trial(gpus_per_trial, visible_gpus())
    if ray_address is not None:
        from nasforge.run.ray_executor import RayExecutor

        assert isinstance(executor, RayExecutor)
        executor.check_reachable()
