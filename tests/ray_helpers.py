"""Test helpers for Ray: a slow evaluator that Ray workers can import (this folder is on
their PYTHONPATH), and a two-node Ray cluster on 127.0.0.1 whose processes are all killed by
PID at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate import NB201Benchmark, NB201Table, Result

NODE_ROLE = "NASFORGE_TEST_RAY_NODE"
"""Environment variable that tells a Ray node's processes which node they belong to."""

CLUSTER_MARK = "NASFORGE_TEST_RAY_CLUSTER"
"""Environment variable, unique per cluster, by which its processes are found and killed."""

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""Keeps Ray on 127.0.0.1 (`../shared/MACHINE_NOTES.md`)."""


class SlowNB201Benchmark(NB201Benchmark):
    """NB201 lookups that take `delay` seconds each.

    With `stall_dir`, the third evaluation on the cluster's worker node stalls (for a minute)
    after creating ``stall_dir/stalled``: a test waits for that file and kills the node, so
    that the node dies with a trial certainly running on it.
    """

    def __init__(
        self, table: NB201Table, *, delay: float = 0.3, stall_dir: str | None = None
    ) -> None:
        super().__init__(table, fidelity=200)
        self.delay = delay
        self.stall_dir = stall_dir

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        if self.stall_dir is not None and os.environ.get(NODE_ROLE) == "worker":
            count = Path(self.stall_dir, "evaluations-on-worker-node")
            with count.open("a") as file:
                file.write(".")
            if count.stat().st_size >= 3:
                try:
                    os.close(os.open(Path(self.stall_dir, "stalled"), os.O_CREAT | os.O_EXCL))
                    time.sleep(60)
                except FileExistsError:
                    pass
        time.sleep(self.delay)
        return super().evaluate(arch, budget)


class CrashingOnce:
    """Evaluator whose worker process dies (SIGKILL) at every evaluation of `arch`."""

    name = "crashing"
    default_budget = None

    def __init__(self, inner: Any, arch: str) -> None:
        self.inner = inner
        self.arch = arch

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        if str(arch) == self.arch:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.evaluate(arch, budget)  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pids_with_env(name: str, value: str) -> list[int]:
    """Processes of this user whose environment has name=value (Linux /proc)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def with_descendants(pids: list[int]) -> list[int]:
    """`pids` and every process below them (Ray's agents and workers rename themselves, which
    hides the environment they inherited, so they are found as children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def kill_all(pids: list[int]) -> None:
    """SIGKILL `pids` and their descendants."""
    for pid in with_descendants(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


_JOIN_ON_LOOPBACK = """
import sys
import ray._private.ray_constants as constants
import ray._private.services as services
# `ray start --address` refuses to join with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and without
# it Ray turns 127.0.0.1 into this machine's network address; keep both nodes on loopback.
constants.ENABLE_RAY_CLUSTER = True
services.get_node_ip_address = lambda address=None: "127.0.0.1"
from ray.scripts.scripts import main
sys.argv[0] = "ray"
main()
"""


class LoopbackCluster:
    """A head node and a worker node (1 CPU each) on 127.0.0.1, started with `ray start`."""

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self.root = Path(tempfile.mkdtemp(prefix="nfray-", dir="/tmp"))  # short socket paths
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex + uuid.uuid4().hex

    def client_env(self) -> dict[str, str]:
        """The environment of a process that joins the cluster (a driver, or a node)."""
        return {
            **os.environ,
            **LOOPBACK_ENV,
            "RAY_AUTH_MODE": "token",  # this cluster's own token, not ~/.ray/auth_token
            "RAY_AUTH_TOKEN": self.token,
            "PYTHONPATH": _with_tests_dir(os.environ.get("PYTHONPATH")),
        }

    def _env(self, role: str) -> dict[str, str]:
        return {**self.client_env(), CLUSTER_MARK: self.mark, NODE_ROLE: role}

    def start(self) -> None:
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
        # Ports whose defaults are fixed get free ones, so that clusters can run side by side.
        head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
        head += ["--ray-client-server-port", str(free_port())]
        head += ["--temp-dir", str(self.root / "h")]
        agent = ["--dashboard-agent-listen-port", str(free_port())]
        self._run(
            [sys.executable, "-m", "ray.scripts.scripts", "start", *head, *agent, *common], "head"
        )
        worker = ["--address", self.address, "--temp-dir", str(self.root / "w")]
        agent = ["--dashboard-agent-listen-port", str(free_port())]
        self._run(
            [sys.executable, "-c", _JOIN_ON_LOOPBACK, "start", *worker, *agent, *common], "worker"
        )

    def _run(self, command: list[str], role: str) -> None:
        done = subprocess.run(
            command, env=self._env(role), capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"ray start ({role}) failed:\n{done.stdout}\n{done.stderr}")

    def wait_for_nodes(self, count: int, timeout: float = 60) -> None:
        code = (
            "import ray, sys, time\n"
            "ray.init(address=sys.argv[1], logging_level='ERROR')\n"
            "end = time.monotonic() + float(sys.argv[3])\n"
            "while sum(n['Alive'] for n in ray.nodes()) < int(sys.argv[2]):\n"
            "    if time.monotonic() > end: sys.exit('nodes missing')\n"
            "    time.sleep(0.2)\n"
        )
        subprocess.run(
            [sys.executable, "-c", code, self.address, str(count), str(timeout)],
            env=self.client_env(),
            check=True,
            timeout=timeout + 30,
        )

    def worker_pids(self) -> list[int]:
        return [pid for pid in self.pids() if _role(pid) == "worker"]

    def pids(self) -> list[int]:
        return pids_with_env(CLUSTER_MARK, self.mark)

    def kill_worker_node(self) -> list[int]:
        """SIGKILL the worker node's raylet and every process under it; return their PIDs."""
        pids = with_descendants(self.worker_pids())
        kill_all(pids)
        return pids

    def stop(self) -> None:
        """SIGKILL every process of the cluster (Ray's daemons ignore SIGTERM)."""
        for _ in range(3):  # a process may start a child while its siblings die
            kill_all(self.pids())
            time.sleep(0.2)


def alive(pid: int) -> bool:
    """True if `pid` runs (a zombie, killed and not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _with_tests_dir(path: str | None) -> str:
    """PYTHONPATH with this folder first: Ray workers import this module."""
    tests = str(Path(__file__).parent)
    return tests + (os.pathsep + path if path else "")


def _role(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{NODE_ROLE}=".encode()
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode()
    return None
