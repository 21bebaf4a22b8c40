"""RayExecutor: a local Ray instance, a real two-node cluster on 127.0.0.1 whose worker node
is killed mid-search, and bad input (an unreachable address, Ray not installed).

Every Ray process a test starts carries a marker in its environment and is killed by PID in
teardown, pass or fail (`ray stop` would also stop Ray instances that are not ours)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nasforge.errors import ConfigError
from nasforge.evaluate import NB201Benchmark, NB201Table, Status
from nasforge.run.budget import Budget
from nasforge.run.executor import Job
from nasforge.run.experiment import Experiment
from nasforge.run.ray_executor import RayExecutor
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from ray_helpers import (
    CLUSTER_MARK,
    LOOPBACK_ENV,
    CrashingOnce,
    LoopbackCluster,
    alive,
    kill_all,
    pids_with_env,
)

pytestmark = pytest.mark.slow

TESTS = str(Path(__file__).parent)

LOCAL_TOKEN = uuid.uuid4().hex * 2
"""Token of this process's local Ray instances: Ray caches the token per process, and without
one a local instance writes a new one to ~/.ray/auth_token."""


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray stays on 127.0.0.1; it reads this when first imported."""
    for name, value in LOOPBACK_ENV.items():
        monkeypatch.setenv(name, value)
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None and constants.ENABLE_RAY_CLUSTER:  # type: ignore[attr-defined]
        pytest.fail("ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 was set")


@pytest.fixture
def local_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Marks the processes of a local Ray instance started by the test, and kills any that
    outlive it."""
    mark = uuid.uuid4().hex
    monkeypatch.setenv(CLUSTER_MARK, mark)
    monkeypatch.setenv("PYTHONPATH", TESTS)  # Ray workers import ray_helpers
    monkeypatch.setenv("RAY_AUTH_TOKEN", LOCAL_TOKEN)
    try:
        yield
    finally:
        import ray

        ray.shutdown()
        for _ in range(3):
            kill_all(pids_with_env(CLUSTER_MARK, mark))
            time.sleep(0.2)


@pytest.fixture
def cluster() -> Iterator[LoopbackCluster]:
    cluster = LoopbackCluster()
    try:
        cluster.start()
        cluster.wait_for_nodes(2)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _outcomes(experiment: Experiment) -> set[tuple[object, ...]]:
    return {
        (t.number, t.arch, t.status, t.duplicate_of, tuple(sorted(t.metrics.items())))
        for t in experiment.result().trials
    }


def _experiment(
    evaluator: NB201Benchmark, queries: int, **kwargs: object
) -> Experiment:  # kwargs: store, name, executor
    space = NB201Space()
    return Experiment(
        space,
        make_strategy("random", space, seed=5),
        evaluator,
        budget=Budget(queries=queries),
        **kwargs,  # type: ignore[arg-type]
    )


def test_local_instance_runs_the_same_trials_as_inline(
    nb201_table: NB201Table, local_ray: None
) -> None:
    inline = _experiment(NB201Benchmark(nb201_table), 24)
    inline.run()
    executor = RayExecutor(workers=2)
    on_ray = _experiment(NB201Benchmark(nb201_table), 24, executor=executor)
    result = on_ray.run()

    assert executor.workers == 2
    assert len(result.trials) >= 24
    assert all(t.status is Status.OK for t in result.trials)
    assert _outcomes(on_ray) == _outcomes(inline)
    import ray

    assert not ray.is_initialized(), "the local instance is stopped with the search"


def test_a_crashing_worker_is_retried_then_recorded_as_failed(
    nb201_table: NB201Table, local_ray: None
) -> None:
    space = NB201Space()
    crashing, fine = (space.sample(np.random.default_rng(seed)) for seed in (1, 2))
    executor = RayExecutor(workers=2, max_retries=1)
    executor.start(CrashingOnce(NB201Benchmark(nb201_table), str(crashing)))  # type: ignore[arg-type]
    try:
        executor.submit(Job(0, crashing, None))
        executor.submit(Job(1, fine, None))
        done = {}
        while executor.running:
            done.update((d.number, d.result) for d in executor.wait())
    finally:
        executor.close()
    assert done[1].status is Status.OK
    assert done[0].status is Status.FAILED
    assert done[0].error is not None
    assert "worker node died or its worker crashed" in done[0].error
    assert "after 2 attempts" in done[0].error


def test_search_on_a_two_node_cluster_survives_killing_the_worker_node(
    nb201_csv_path: Path, cluster: LoopbackCluster, tmp_path: Path
) -> None:
    """The search runs in its own process (as `nasforge search` would), with trials on both
    nodes; the worker node is killed while a trial is running on it."""
    stall_dir = tmp_path / "stall"
    stall_dir.mkdir()
    killed: list[int] = []

    def kill_when_stalled() -> None:
        deadline = time.monotonic() + 90
        while not (stall_dir / "stalled").exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        killed.extend(cluster.kill_worker_node())

    killer = threading.Thread(target=kill_when_stalled, daemon=True)
    killer.start()
    queries = 16
    store_path = tmp_path / "search.db"
    search = subprocess.run(
        [
            sys.executable,
            str(Path(TESTS, "ray_search.py")),
            *(str(nb201_csv_path), str(store_path), cluster.address),
            *(str(stall_dir), str(queries)),
        ],
        env=cluster.client_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    killer.join(timeout=5)
    assert search.returncode == 0, search.stderr[-3000:]
    assert "workers=2" in search.stdout, "one trial per CPU of the two nodes"
    assert killed, "a trial should have stalled on the worker node, to be killed there"
    time.sleep(0.5)
    assert not [pid for pid in killed if alive(pid)], "the worker node's processes are gone"

    store = Store(store_path)
    trials = store.trials(store.experiment("cluster").id)
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.finished for t in trials), "no trial is left running"
    assert sum(t.evaluated for t in trials) == queries, "the search finished its budget"
    for trial in trials:
        assert trial.status is Status.OK or "node died" in (trial.error or ""), trial
    hit = [t for t in trials if t.info.get("ray_attempts", 1) > 1 or t.status is Status.FAILED]
    assert hit, "the trial that was running on the killed node was retried or failed"


def test_an_unreachable_address_is_a_config_error_within_30_seconds() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"cannot reach the Ray cluster at {address}"):
        RayExecutor(address=address).start(None)  # type: ignore[arg-type]
    assert time.monotonic() - started < 30


def test_an_address_that_is_not_a_ray_head_is_a_config_error_within_30_seconds() -> None:
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ConfigError, match=f"cannot join the Ray cluster at {address}") as err:
            RayExecutor(address=address).start(None)  # type: ignore[arg-type]
        assert time.monotonic() - started < 30
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("address", ["nohost", "host:port", ":6379", "127.0.0.1:70000"])
def test_a_malformed_address_is_a_config_error(address: str) -> None:
    with pytest.raises(ConfigError, match="not HOST:PORT"):
        RayExecutor(address=address)


def test_without_ray_installed_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r'pip install "nasforge\[ray\]"'):
        RayExecutor()
