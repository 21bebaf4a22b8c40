"""`ProcessExecutor`: several evaluations at once, in local worker processes.

Each worker is a fresh (spawned) Python process that receives the evaluator once, at start,
and sets its own torch thread count: two processes of one thread train small networks
faster in total than one process of two threads (`shared/MACHINE_NOTES.md`). A worker that
dies (killed, out of memory) takes its job with it: the pool is restarted and the job is run
again, up to `max_retries` times, after which it is returned as a failed result that names
the cause; the search goes on either way. (A dead worker breaks the whole pool, so the jobs
of the other workers are lost too; when it is not clear whose job killed it, each lost job
runs again alone, and only the one that kills its worker again is charged a retry.)

On a machine with GPUs (``gpus`` > 0), each worker is given one GPU, round-robin
(`nasforge.device.trial_devices`): it sees only that one (``CUDA_VISIBLE_DEVICES``), as
``cuda``, so trials run one per GPU with no GPU named in the evaluator.

Workers never outlive the search: `close` ends them (SIGTERM, then SIGKILL after a grace
period), they ignore SIGINT (a Ctrl-C reaches the whole process group; the search process
decides what stops), and each dies by itself when its parent dies, even by SIGKILL: Linux
sends it SIGKILL then (``prctl(PR_SET_PDEATHSIG)``), and elsewhere a watchdog thread sees
that it has another parent within `WATCH_SECONDS`.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.run.executor import Done, Executor, Job, evaluate_safely

_worker_evaluator: Evaluator | None = None
"""The evaluator of this worker process (set once by `_start_worker`; unused in the parent)."""


WATCH_SECONDS = 0.5
"""How often a worker checks that its parent is alive (where prctl cannot tell it)."""
CLOSE_GRACE_SECONDS = 5.0
"""How long `close` waits for terminated workers before it kills them."""
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """End this process when `parent` ends: SIGKILL from the kernel on Linux, and a watchdog
    thread everywhere (also for a parent that died before this was set up)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="nasforge-parent-watch", daemon=True).start()


def _start_worker(
    evaluator_bytes: bytes, threads: int, parent: int, gpus: Any | None = None
) -> None:
    global _worker_evaluator
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    if gpus is not None:  # this worker's GPU, before torch is imported
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus.get()
    import torch

    torch.set_num_threads(threads)
    _worker_evaluator = pickle.loads(evaluator_bytes)


def _run_job(job: Job) -> Result:
    assert _worker_evaluator is not None, "worker started without an evaluator"
    return evaluate_safely(_worker_evaluator, job.arch, job.budget)


def default_threads(workers: int) -> int:
    """Torch threads per worker: the machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // workers)


class ProcessExecutor(Executor):
    """Runs up to `workers` evaluations at once in spawned local processes."""

    def __init__(
        self,
        workers: int,
        *,
        threads_per_worker: int | None = None,
        max_retries: int = 2,
        gpus: int = 0,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, not {workers}")
        if threads_per_worker is not None and threads_per_worker < 1:
            raise ConfigError(f"threads per worker must be at least 1, not {threads_per_worker}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, not {max_retries}")
        self.workers = workers
        self.threads = threads_per_worker or default_threads(workers)
        self.max_retries = max_retries
        from nasforge.device import trial_devices  # torch: not at import, in the workers

        self.gpus = gpus
        self.placement = trial_devices(workers, gpus)
        """Each worker's device: a GPU number (its CUDA_VISIBLE_DEVICES) or cpu."""
        self._evaluator_bytes = b""
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[Future[Result], Job] = {}
        self._attempts: dict[int, int] = {}
        self._suspects: deque[Job] = deque()

    def start(self, evaluator: Evaluator) -> None:
        self._evaluator_bytes = pickle.dumps(evaluator)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        gpus = None
        if self.gpus > 0:  # one GPU for each worker the pool starts
            gpus = context.SimpleQueue()
            for device in self.placement:
                gpus.put(device)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self._evaluator_bytes, self.threads, os.getpid(), gpus),
        )

    def submit(self, job: Job) -> None:
        if self._pool is None:
            raise RuntimeError("ProcessExecutor.submit() before start()")
        self._attempts[job.number] = self._attempts.get(job.number, 0) + 1
        try:
            future = self._pool.submit(_run_job, job)
        except BrokenProcessPool:
            self._restart()
            future = self._pool.submit(_run_job, job)
        self._futures[future] = job

    def wait(self) -> list[Done]:
        self._isolate_next_suspect()
        finished, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        done: list[Done] = []
        lost: list[Job] = []
        for future in finished:
            job = self._futures.pop(future)
            try:
                done.append(Done(job.number, future.result()))
            except BrokenProcessPool:
                lost.append(job)
        if lost:
            lost += list(self._futures.values())  # a broken pool fails every running job
            self._futures.clear()
            self._restart()
            done += self._after_death(sorted(lost, key=lambda j: j.number))
        for item in done:
            self._attempts.pop(item.number, None)
        return sorted(done, key=lambda item: item.number)

    def _after_death(self, lost: list[Job]) -> list[Done]:
        """Retry the jobs a dead worker took with it; fail one that used up its retries.

        When several jobs were lost at once, nobody knows which one killed the worker: none
        is charged, and each runs again alone, so that only the culprit uses up retries."""
        if len(lost) > 1:
            for job in lost:
                self._attempts[job.number] -= 1
            self._suspects.extend(lost)
            return []
        job = lost[0]
        if self._attempts[job.number] > self.max_retries:
            return [Done(job.number, Result.failed(_died(self._attempts[job.number])))]
        self.submit(job)
        return []

    def _isolate_next_suspect(self) -> None:
        if self._suspects and not self._futures:
            self.submit(self._suspects.popleft())

    def has_room(self) -> bool:
        return not self._suspects and self.running < self.workers

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    @property
    def running(self) -> int:
        return len(self._futures) + len(self._suspects)

    def _processes(self) -> list[multiprocessing.process.BaseProcess]:
        return list((getattr(self._pool, "_processes", None) or {}).values())

    def close(self) -> None:
        """End the workers (running jobs are abandoned): SIGTERM, and SIGKILL for those
        still alive after `CLOSE_GRACE_SECONDS`."""
        if self._pool is not None:
            processes = self._processes()
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                with contextlib.suppress(OSError, ValueError):
                    process.terminate()
            deadline = time.monotonic() + CLOSE_GRACE_SECONDS
            for process in processes:
                with contextlib.suppress(OSError, ValueError, AssertionError):
                    process.join(max(0.0, deadline - time.monotonic()))
                    if process.is_alive():
                        process.kill()
                        process.join(1.0)
            self._pool = None
        self._futures.clear()
        self._suspects.clear()

    def kill(self) -> None:
        for process in self._processes():
            with contextlib.suppress(OSError, ValueError):
                process.kill()

    def describe(self) -> str:
        gpus = f", one GPU each over {self.gpus} GPU(s)" if self.gpus else ""
        return f"{self.workers} worker processes, {self.threads} torch thread(s) each{gpus}"


def _died(attempts: int) -> str:
    return (
        f"worker process died during the evaluation ({attempts} attempt"
        f"{'s' if attempts > 1 else ''}); it may have run out of memory or been killed"
    )
