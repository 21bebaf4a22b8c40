"""`RayExecutor`: trials as Ray tasks, on a local Ray instance or on a cluster.

Install with ``pip install "nasforge[ray]"``. The search (strategy, store, journal) stays in
the calling process; only evaluations travel: the evaluator is put in Ray's object store once,
and each trial is a task that calls `evaluate_safely` on it.

A trial whose task is lost with its worker or node (the worker process crashed, the node
died, the evaluator's object was lost) runs again, up to `max_retries` more times; after that
it comes back as a failed result that names the cause, so the search records it and goes on.
"""

from __future__ import annotations

import importlib.util
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.run.executor import Done, Executor, Job, evaluate_safely

INSTALL_HINT = 'the Ray executor needs Ray: pip install "nasforge[ray]"'

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to "0" before Ray is imported, Ray keeps a local instance on 127.0.0.1, and a driver
joins a cluster at 127.0.0.1 there (instead of at the machine's network address)."""


def _import_ray(*, loopback: bool) -> Any:
    """The `ray` module, or a ConfigError saying how to install it."""
    if loopback:
        # Ray reads this when it is first imported; a local instance then binds 127.0.0.1
        # only (and so do the processes it starts, which inherit the environment), and an
        # address 127.0.0.1:PORT is not turned into this machine's network address.
        os.environ.setdefault(LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def _evaluate_in_task(
    evaluator: Evaluator, arch: Arch, budget: float | None, threads: int
) -> Result:
    """The body of a trial's Ray task."""
    import torch

    torch.set_num_threads(threads)
    return evaluate_safely(evaluator, arch, budget)


@dataclass
class _Attempt:
    job: Job
    attempt: int  # 1 for the first run of the job


class RayExecutor(Executor):
    """Runs up to `workers` trials at once as Ray tasks of `threads_per_trial` CPUs each.

    Without `address`, `start` starts a local Ray instance on 127.0.0.1 and `close` stops it;
    with one (``HOST:PORT`` of a running cluster's head), `start` joins that cluster and
    `close` only disconnects. `workers` defaults to the cluster's CPUs divided by
    `threads_per_trial`. A trial lost with its worker or node runs again up to `max_retries`
    times. An unreachable address is a ConfigError after at most about `connect_timeout`
    seconds.
    """

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        threads_per_trial: int = 1,
        max_retries: int = 2,
        connect_timeout: float = 30,
        gpus_per_trial: float = 0.0,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be at least 1, not {workers}")
        if threads_per_trial < 1:
            raise ConfigError(f"threads_per_trial must be at least 1, not {threads_per_trial}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be at least 0, not {max_retries}")
        if not connect_timeout > 0:
            raise ConfigError(f"connect_timeout must be positive, not {connect_timeout}")
        if not (gpus_per_trial >= 0 and math.isfinite(gpus_per_trial)):
            raise ConfigError(f"--gpus-per-trial must be a number >= 0, not {gpus_per_trial}")
        if address is not None:
            _split_address(address)  # a malformed address is reported before anything starts
        if importlib.util.find_spec("ray") is None:  # before a search starts, not at start()
            raise ConfigError(INSTALL_HINT)
        self.requested_workers = workers
        self.address = address
        self.threads_per_trial = threads_per_trial
        self.gpus_per_trial = gpus_per_trial
        """GPUs Ray reserves for each trial (fractions share one); Ray sets the task's
        CUDA_VISIBLE_DEVICES, so its trial sees them as ``cuda``."""
        self.max_retries = max_retries
        self.connect_timeout = connect_timeout
        self.workers = workers or 1  # the cluster's share once started, if not given
        self._ray: Any = None
        self._task: Any = None
        self._evaluator_ref: Any = None
        self._pending: dict[Any, _Attempt] = {}

    # -- lifecycle -------------------------------------------------------------------
    def start(self, evaluator: Evaluator) -> None:
        loopback = self.address is None or _is_loopback(_split_address(self.address)[0])
        ray = _import_ray(loopback=loopback)
        if ray.is_initialized():
            raise ConfigError(
                "Ray is already initialized in this process; RayExecutor starts or joins "
                "its own Ray session (call ray.shutdown() first)"
            )
        if self.address is None:
            self._start_local(ray)
        else:
            self._connect(ray, self.address)
        self._ray = ray
        try:
            if self.requested_workers is None:
                cpus = int(ray.cluster_resources().get("CPU", 1))
                self.workers = max(1, cpus // self.threads_per_trial)
            if self.gpus_per_trial:
                from nasforge.device import check_gpus_per_trial

                check_gpus_per_trial(
                    self.gpus_per_trial, float(ray.cluster_resources().get("GPU", 0))
                )
            # Ray's own retries are off: lost trials are retried here, counted and reported.
            task = ray.remote(
                num_cpus=self.threads_per_trial, num_gpus=self.gpus_per_trial, max_retries=0
            )
            self._task = task(_evaluate_in_task)
            self._evaluator_ref = ray.put(evaluator)
        except BaseException:
            self.close()
            raise

    def _start_local(self, ray: Any) -> None:
        cpus = (
            self.requested_workers * self.threads_per_trial
            if self.requested_workers is not None
            else os.cpu_count() or 1
        )
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            logging_level="WARNING",
            configure_logging=True,
        )

    def _connect(self, ray: Any, address: str) -> None:
        """Join the cluster at `address`, or a one-line ConfigError within `connect_timeout`.

        `ray.init` retries an unreachable address for minutes, and its timeouts are read once
        per process, so the address is checked before it is called: a TCP connection (a
        closed port or an unreachable host fails here at once), then a GCS handshake in a
        child process whose Ray timeouts are set to fit the time left, and which is killed if
        it overruns (a port that answers but is not a Ray head's).
        """
        self.check_reachable(address)
        try:
            with _environ({"RAY_gcs_server_port_wait_time_s": "1"}):  # one attempt, not 20
                ray.init(address=address, logging_level="WARNING", configure_logging=True)
        except (ConnectionError, RuntimeError, TimeoutError, ray.exceptions.RayError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address}: {_line(exc)}") from None

    def check_reachable(self, address: str | None = None) -> None:
        """Raise a one-line ConfigError within `connect_timeout` unless a Ray head answers
        at `address` (default: this executor's); nothing to check for a local instance."""
        address = address or self.address
        if address is None:
            return
        host, port = _split_address(address)
        deadline = time.monotonic() + self.connect_timeout
        try:
            with socket.create_connection((host, port), timeout=min(10.0, self.connect_timeout)):
                pass
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; "
                "is `ray start --head` running there?"
            ) from None
        problem = _probe_gcs(address, deadline - time.monotonic())
        if problem is not None:
            raise ConfigError(f"cannot join the Ray cluster at {address}: {problem}")

    def close(self) -> None:
        """Stop the local instance (its workers with it), or cancel this search's running
        tasks and disconnect from the cluster.

        Tasks of a local instance are not cancelled one by one: `ray.shutdown()` ends their
        workers, and a forced cancel racing a task that just finished can abort the driver
        inside Ray ("Tried to complete task that was not pending", seen under SIGINT). On a
        joined cluster the tasks are asked to stop (KeyboardInterrupt in the worker), not
        forced, for the same reason."""
        ray = self._ray
        if ray is None:
            return
        if self.address is not None:
            self._cancel(ray, force=False)
        self._pending.clear()
        self._evaluator_ref = None
        self._task = None
        self._ray = None
        # On a joined cluster, shutdown() disconnects this driver and leaves the nodes up.
        ray.shutdown()

    def _cancel(self, ray: Any, force: bool) -> None:
        for ref in list(self._pending):
            with suppress(Exception):  # the task may be gone with its node, or finished
                ray.cancel(ref, force=force)

    # -- jobs ------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        self._launch(_Attempt(job, 1))

    def _launch(self, attempt: _Attempt) -> None:
        if self._task is None:
            raise RuntimeError("RayExecutor.submit() before start()")
        job = attempt.job
        ref = self._task.remote(self._evaluator_ref, job.arch, job.budget, self.threads_per_trial)
        self._pending[ref] = attempt

    def wait(self) -> list[Done]:
        if self._ray is None:
            raise RuntimeError("RayExecutor.wait() before start()")
        ray = self._ray
        done: list[Done] = []
        while not done:
            if not self._pending:
                raise RuntimeError("RayExecutor.wait() with no running job")
            refs = list(self._pending)
            ready, rest = ray.wait(refs, num_returns=1)
            if rest:
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
            for ref in ready:
                finished = self._collect(ray, ref)
                if finished is not None:
                    done.append(finished)
        return done

    def _collect(self, ray: Any, ref: Any) -> Done | None:
        """The job's Done, or None if it was lost with its node and has been relaunched."""
        attempt = self._pending.pop(ref)
        job = attempt.job
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as exc:
            cause = _lost_with_node(ray, exc)
            if cause is None:
                return Done(job.number, Result.failed(f"ray: {_innermost(ray, exc)}"))
            if attempt.attempt <= self.max_retries:
                self._launch(_Attempt(job, attempt.attempt + 1))
                return None
            attempts = "attempt" if attempt.attempt == 1 else "attempts"
            return Done(
                job.number,
                Result.failed(
                    f"ray: worker node died or its worker crashed ({cause}) "
                    f"after {attempt.attempt} {attempts}"
                ),
            )
        if attempt.attempt > 1:  # say so in the stored trial
            result = replace(result, info={**result.info, "ray_attempts": attempt.attempt})
        return Done(job.number, result)

    @property
    def running(self) -> int:
        return len(self._pending)

    def describe(self) -> str:
        where = self.address or "local"
        gpus = f", gpus_per_trial={self.gpus_per_trial:g}" if self.gpus_per_trial else ""
        return (
            f"RayExecutor(workers={self.workers}, address={where}, "
            f"threads_per_trial={self.threads_per_trial}{gpus})"
        )


def _lost_with_node(ray: Any, exc: BaseException) -> str | None:
    """The name of the infrastructure failure behind `exc` (a task lost with its worker or
    node, which is worth running again), or None for any other error."""
    lost = (
        ray.exceptions.WorkerCrashedError,
        ray.exceptions.NodeDiedError,
        ray.exceptions.LocalRayletDiedError,
        ray.exceptions.ObjectLostError,  # also OwnerDiedError, ObjectReconstructionFailedError
        ray.exceptions.ObjectFetchTimedOutError,
    )
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, lost):
            return type(current).__name__
        if isinstance(current, ray.exceptions.RayTaskError):
            current = current.cause
        else:
            current = current.__cause__
        seen += 1
    return None


_PROBE = """
import sys
try:
    from ray._raylet import GcsClient
except ImportError:
    sys.exit(0)  # another Ray version: let ray.init find out
GcsClient(address=sys.argv[1])
"""


def _probe_gcs(address: str, seconds: float) -> str | None:
    """None if a Ray GCS answers at `address` within `seconds`, else what went wrong."""
    seconds = max(seconds, 2.0)
    env = dict(os.environ)
    # Ray tries three times while connecting a GCS client, each for this many seconds.
    env.setdefault("RAY_py_gcs_connect_timeout_s", str(max(1, int((seconds - 3) / 4))))
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, address],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"no Ray head answered within {seconds:.0f} s"
    if probe.returncode == 0:
        return None
    errors = [line for line in probe.stderr.splitlines() if "Error" in line and ":" in line]
    if not errors:
        return f"the connection check exited {probe.returncode}"
    return errors[-1].strip().removeprefix("ray.exceptions.")


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _innermost(ray: Any, exc: BaseException) -> str:
    """The error under Ray's wrappers, in one line (such as an evaluator that the workers
    cannot unpickle: ``RaySystemError: System error: No module named 'mymodule'``)."""
    for _ in range(5):
        cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) else exc.__cause__
        if cause is None or cause is exc:
            break
        exc = cause
    return f"{type(exc).__name__}: {_line(exc)}"


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"Ray address {address!r} is not HOST:PORT (the head's GCS port, 6379 by default)"
        )
    return host, int(port)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables that are not set already, for the duration of the block."""
    added = {key: value for key, value in values.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
