"""One-shot search on NAS-Bench-201's space with CIFAR-10, looked up in the NB201 table.

Three modes (this script is not part of the package):

**run** (default): ONE method and seed per invocation. The task is ``cifar10_small.npz``
(``--data``, else ``$NASFORGE_DATA``, else ``../shared/data``): all 10,000 training images,
which every method splits into two stratified halves of 5,000 (weights / architecture); the
trainer's per-epoch validation, the supernet's learning curve and used for nothing else,
runs on the 2,000 test images. The supernet is a reduced NB201 network (``--channels 8
--cells 1`` by default; NB201's own is C=16, N=5), batch 64, 2 threads. ``--epochs auto``
(the default) times one epoch of the method on the real data first (a probe, aborted after
that epoch and not counted) and plans as many epochs as fit ``--max-minutes`` (at most
``--max-epochs``), so that the cosine schedule completes; ``--max-minutes`` also stops
training after the epoch that crosses it (`OneShotMethod.search(max_seconds=...)`, a
trainer hook). The found arch is looked up in ``nb201.csv`` (``--benchmark``, else
``$NASFORGE_NB201``, else ``../shared/benchmarks``): CIFAR-10 test accuracy
(``cifar10_test_acc``, 200 epochs), valid accuracy and parameters. One JSON row is APPENDED
to ``docs/data/oneshot_nb201.jsonl`` (``--results``; committed, the docs are built from it).

Measured per run: search minutes (training, plus SPOS's evolution or ENAS's final choice);
our time per weight step (median over steps, from ``on_batch_start`` to ``on_batch_end`` of a
trainer hook, so the architecture step is included; epoch-end work such as ENAS's controller
phase is in the mean, ``fit_seconds_per_step``: the whole fit over its steps, validation
included); peak memory of one step (``step_peak_mb``: the torch profiler's allocation events
over step 5, cumulated in time order, the highest point above the step's start), the
estimate checked before training, and the process's peak resident memory (``ru_maxrss``).

**--table**: the Markdown table of every stored row, and per-method means.

**--compare**: time per search step and peak memory of ours beside the reference
implementations on the same supernet configuration and batch (64 random 32x32 images, C and
N as given, ``--threads 2``), in one process, interleaved (rounds alternate which side goes
first). References: the NB201 authors' ``xautodl`` 1.0.0 (``pip install --no-deps --target
DIR xautodl==1.0.0``, then ``--xautodl DIR``; its ``cell_searchs`` models with the training
glue of its search scripts, written here from them) and, with ``--nni-python PATH`` (an
interpreter of a separate virtual environment with ``nni==3.0``, ``pytorch-lightning`` and
the same torch), NNI 3.0's DARTS supernet of its ``NasBench201`` model space, measured in a
subprocess. A "search step" and what both sides run per epoch of S steps:

- darts: S x (architecture step: Adam on alpha, mixed forward and backward on an arch
  batch; weight step: mixed forward, backward, clip, SGD) (xautodl DARTS-V1, NNI DARTS);
- gdas: S x (weight step on a Gumbel-sampled path; architecture step on another) (GDAS);
- enas: S x (weight step on a controller-sampled path) + one controller update from S
  samples, each rewarded with its accuracy on an arch batch in eval mode (ENAS);
- spos: S x (weight step on a uniformly sampled path): SPOS's supernet training, compared
  with xautodl's RANDOM (random sampling with parameter sharing, the same training).

Each side runs a warm-up epoch, a timed epoch (wall time from the first step's start to the
last step's end, over S) and a profiled epoch (peak of the allocations above the epoch's
start, torch profiler, as above: the same measurement for every side). Differences that stay:
ours trains in channels_last (its default, ~15% faster on CPU); xautodl's search cells have
non-affine BatchNorm like ours, NNI's are affine; NNI's hub network has no per-method
choices for running statistics. xautodl's second-order DARTS and NNI's other methods are
not in the comparison (xautodl's unrolled step lives in its experiment scripts, not in the
package). Ratios are ours / reference (below 1: ours is faster or smaller).

**--versus DIR**: time per search step of this checkout of nasforge ("after") beside
another one ("before", e.g. ``git worktree add /tmp/before <commit>``, then ``--versus
/tmp/before``), same configuration as ``--compare``: one process of this script
(``--worker``) per checkout, ``PYTHONPATH`` on its ``src``, that runs searches of
``--epochs`` epochs on request; the sides alternate first and second from round to round.
A round's figure is the median step time after the first epoch; the ratio is the median
over rounds of after / before (below 1: after is faster).

Usage::

    python benchmarks/oneshot_nb201.py --method darts --seed 0 --max-minutes 20
    python benchmarks/oneshot_nb201.py --table
    python benchmarks/oneshot_nb201.py --compare --xautodl /tmp/xautodl_pkg \\
        --nni-python /tmp/nni_venv/bin/python
    python benchmarks/oneshot_nb201.py --versus /tmp/before --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Arch
from nasforge.data.loaders import DATA_ENV, load_npz_task
from nasforge.data.task import Task, make_task
from nasforge.evaluate import NB201Table
from nasforge.oneshot import ENAS, METHODS, SPOS, MemoryEstimate, OneShotMethod, SearchMonitor
from nasforge.oneshot import make_method as build_method
from nasforge.oneshot.supernet import NONE_OP, SuperNet
from nasforge.space import NB201Space
from nasforge.space.nb201.space import LABELS
from nasforge.training import EpochMetrics, TrainConfig, Trainer, TrainerHooks

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
RESULTS = REPO_ROOT / "docs" / "data"  # committed: the docs tables are built from these rows
PROFILED_STEP = 5
CALIBRATION_EXAMPLES = 2048
COMPARED = ("darts", "gdas", "enas", "spos")
ALPHA_METHODS = ("darts", "darts2", "gdas", "beta-darts")  # whose arch is alpha's argmax
XAUTODL_MODELS = {
    "darts": "TinyNetworkDarts",
    "gdas": "TinyNetworkGDAS",
    "enas": "TinyNetworkENAS",
    "spos": "TinyNetworkRANDOM",
}


# -- measuring ---------------------------------------------------------------------------------


def peak_allocated(prof: Any) -> int:
    """The highest point of the allocations a torch profile recorded, above its start."""
    events = sorted(
        (event.start_ns(), event.nbytes())
        for event in prof.profiler.kineto_results.events()
        if event.name() == "[memory]"
    )
    live = peak = 0
    for _, size in events:
        live += size
        peak = max(peak, live)
    return peak


def start_profile() -> Any:
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    prof.start()
    return prof


def stop_profile(prof: Any) -> int:
    prof.stop()
    return peak_allocated(prof)


class StepClock(TrainerHooks):
    """Step times (``on_batch_start`` to ``on_batch_end``, after the method's own hooks) and
    the allocation peak of step `PROFILED_STEP`."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.step_peak: int | None = None
        self._start = 0.0
        self._prof: Any = None

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        if step == PROFILED_STEP:
            self._prof = start_profile()
        self._start = time.perf_counter()

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        seconds = time.perf_counter() - self._start
        if self._prof is not None:
            self.step_peak = stop_profile(self._prof)
            self._prof = None
        else:
            self.times.append(seconds)


class EpochClock(TrainerHooks):
    """Busy time of each epoch (first step's start to last step's end) and the allocation
    peak of epoch ``profiled`` (of ``steps`` steps)."""

    def __init__(self, steps: int, profiled: int) -> None:
        self.steps, self.profiled = steps, profiled
        self.seconds: dict[int, float] = {}
        self.peak: int | None = None
        self._epoch, self._first, self._count = 0, 0.0, 0
        self._prof: Any = None

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        self._epoch, self._count = epoch, 0

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        if self._count == 0:
            if self._epoch == self.profiled:
                self._prof = start_profile()
            self._first = time.perf_counter()

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self._count += 1
        if self._count == self.steps:
            self.seconds[self._epoch] = time.perf_counter() - self._first
            if self._prof is not None:
                self.peak = stop_profile(self._prof)
                self._prof = None


class EpochLog(SearchMonitor):
    """One line per epoch (and generation) on stderr."""

    def __init__(self, space: NB201Space, label: str) -> None:
        self.space, self.label = space, label
        self.started = time.perf_counter()

    def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
        self.started = time.perf_counter()
        print(f"[{self.label}] {epochs} epochs; estimated peak memory {memory}", file=sys.stderr)

    def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
        shown = "uniform paths" if arch is None else self.space.format(arch)
        print(
            f"[{self.label}] epoch {metrics.epoch}: loss {metrics.train_loss:.3f}, supernet "
            f"valid {100 * metrics.valid_accuracy:.1f}%, "
            f"{(time.perf_counter() - self.started) / 60:.1f} min; {shown}",
            file=sys.stderr,
            flush=True,
        )

    def on_generation(self, generation: int, generations: int, score: float, arch: Arch) -> None:
        print(
            f"[{self.label}] generation {generation + 1}/{generations}: best "
            f"{100 * score:.1f}% {self.space.format(arch)}",
            file=sys.stderr,
            flush=True,
        )


class _ProbeDone(Exception):
    """Ends the timing probe after its first epoch."""


class ProbeMonitor(SearchMonitor):
    def __init__(self) -> None:
        self.started = 0.0
        self.epoch_seconds = 0.0

    def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
        self.started = time.perf_counter()

    def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
        self.epoch_seconds = time.perf_counter() - self.started
        raise _ProbeDone


# -- run ---------------------------------------------------------------------------------------


def data_path(given: Path | None) -> Path:
    if given is not None:
        return given
    where = Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else SHARED / "data"
    return where / "cifar10_small.npz" if where.is_dir() else where


def benchmark_path(given: Path | None) -> Path:
    if given is not None:
        return given
    env = os.environ.get("NASFORGE_NB201")
    return Path(env) if env else SHARED / "benchmarks" / "nb201.csv"


def cifar10_task(path: Path) -> Task:
    """All 10,000 training images for the search; the test images as the trainer's
    (monitoring-only) validation set."""
    task = load_npz_task("cifar10", path)
    return dataclasses.replace(
        task,
        x_train=np.concatenate([task.x_train, task.x_valid]),
        y_train=np.concatenate([task.y_train, task.y_valid]),
        x_valid=task.x_test,
        y_valid=task.y_test,
    )


def method_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as constructor options; values are read as JSON when they parse
    (``arch_lr=3e-3``, ``augment=true``), else kept as strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SystemExit(f"--option needs KEY=VALUE with KEY a name, not {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def make_method(args: argparse.Namespace) -> Callable[[NB201Space], OneShotMethod]:
    options = method_options(args.option)
    return lambda space: build_method(args.method, space, **options)


def plan_epochs(args: argparse.Namespace, space: NB201Space, task: Task) -> tuple[int, float]:
    """Epochs that fit the budget, from one timed epoch of the method (aborted after it)."""
    probe = ProbeMonitor()
    with contextlib.suppress(_ProbeDone):
        make_method(args)(space).search(
            task,
            epochs=args.max_epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            threads=args.threads,
            monitor=probe,
        )
    epochs = int(60 * args.max_minutes // probe.epoch_seconds)
    return max(1, min(args.max_epochs, epochs)), probe.epoch_seconds


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    space = NB201Space(channels=args.channels, cells_per_stage=args.cells)
    task = cifar10_task(data_path(args.data))
    table = NB201Table.from_csv(benchmark_path(args.benchmark))
    label = f"{args.method} seed {args.seed}"
    load_before = os.getloadavg()[0]
    probe_seconds = None
    if args.epochs == "auto":
        epochs, probe_seconds = plan_epochs(args, space, task)
        print(
            f"[{label}] probe: {probe_seconds:.1f} s per epoch; planning {epochs} epochs in "
            f"{args.max_minutes:g} min",
            file=sys.stderr,
        )
    else:
        epochs = int(args.epochs)
    clock = StepClock()
    started = time.perf_counter()
    result = make_method(args)(space).search(
        task,
        epochs=epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        max_seconds=60.0 * args.max_minutes,
        monitor=EpochLog(space, label),
        hooks=[clock],
    )
    search_seconds = time.perf_counter() - started
    arch = space.format(result.arch)
    looked_up = table.metrics(table.row_of(arch))
    # DARTS's derivation rule (the strongest op that is not none), from the same alpha
    without_none = space.format(
        result.supernet.argmax_arch(
            {label: torch.as_tensor(a) for label, a in result.alpha.items()}, exclude=(NONE_OP,)
        )
    )
    child = result.child(task.x_train[:CALIBRATION_EXAMPLES], seed=args.seed)
    tester = Trainer(TrainConfig(threads=args.threads))
    inherited = 100.0 * tester.evaluate(child, task.x_test, task.y_test)
    d = result.diagnostics
    report = result.report
    row = {
        "method": args.method,
        "seed": args.seed,
        "options": method_options(args.option),
        "channels": args.channels,
        "cells_per_stage": args.cells,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "epochs_planned": epochs,
        "epochs": report.epochs_run,
        "stopped": report.reason,
        "probe_epoch_seconds": probe_seconds,
        "search_minutes": search_seconds / 60,
        "train_minutes": report.seconds / 60,
        "arch": arch,
        "nb201_cifar10_test_acc": looked_up["cifar10_test_acc"],
        "nb201_cifar10_valid_acc": looked_up["cifar10_valid_acc"],
        "nb201_params_m": looked_up["params_m_cifar10"],
        "arch_without_none": without_none,
        "without_none_test_acc": table.metrics(table.row_of(without_none))["cifar10_test_acc"],
        "inherited_test_acc": inherited,
        "supernet_valid_acc": 100.0 * report.last_valid_accuracy,
        "skip_share": sum(result.arch[label] == "skip_connect" for label in LABELS) / len(LABELS),
        "entropy": float(d.mean_entropy[-1]),
        "diagnostics_unit": d.unit,
        "archs": [space.format(a) for a in d.archs],
        "final_weights": [[round(float(w), 4) for w in d.weights[label][-1]] for label in LABELS],
        "step_seconds_median": statistics.median(clock.times),
        "fit_seconds_per_step": report.seconds / max(report.steps, 1),
        "step_peak_mb": None if clock.step_peak is None else clock.step_peak / 2**20,
        "estimated_mb": result.memory.total_bytes / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": [load_before, os.getloadavg()[0]],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(
        f"{label}: {arch} after {report.epochs_run} epochs ({search_seconds / 60:.1f} min): "
        f"NB201 CIFAR-10 test {looked_up['cifar10_test_acc']:.2f}%; skip share "
        f"{row['skip_share']:.2f}, entropy {row['entropy']:.2f}; "
        f"{row['step_seconds_median']:.3f} s/step; appended to {args.results}"
    )


# -- table -------------------------------------------------------------------------------------


def escaped(arch: str) -> str:
    """An NB201 string in a Markdown table cell (its bars would split the cell)."""
    return "`" + arch.replace("|", "\\|") + "`"


def setting(row: dict[str, Any]) -> str:
    """The method with its non-default options and threads, e.g. ``gdas (arch_lr=0.003)``."""
    options = row.get("options") or {}
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(options.items()))
    threads = f"{row['threads']} thr"
    return f"{row['method']} ({shown}; {threads})" if shown else f"{row['method']} ({threads})"


def without_none(row: dict[str, Any]) -> str:
    """NB201 test accuracy of the arch DARTS's derivation reads off the same alpha (the
    strongest op that is not none); "=" when it is the found arch itself; "-" for ENAS and
    SPOS, whose arch is not alpha's argmax."""
    if "without_none_test_acc" not in row or row["method"] not in ALPHA_METHODS:
        return "-"
    if row["arch_without_none"] == row["arch"]:
        return "="
    return f"{row['without_none_test_acc']:.2f}"


def mean_without_none(rows: Sequence[dict[str, Any]]) -> str:
    if not all("without_none_test_acc" in r and r["method"] in ALPHA_METHODS for r in rows):
        return "-"
    return f"{statistics.mean(r['without_none_test_acc'] for r in rows):.2f}"


def backfill_without_none(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Rows stored before ``arch_without_none`` existed but with ``final_weights`` (softmax
    of alpha, whose argmax is alpha's) get it from those weights, as the run would have."""
    space = NB201Space(channels=args.channels, cells_per_stage=args.cells)
    nb201: NB201Table | None = None
    for row in rows:
        if "arch_without_none" in row or "final_weights" not in row:
            continue
        supernet = space.supernet((3, 32, 32), 10)
        assert isinstance(supernet, SuperNet)
        weights = dict(zip(LABELS, torch.tensor(row["final_weights"]), strict=True))
        arch = space.format(supernet.argmax_arch(weights, exclude=(NONE_OP,)))
        nb201 = nb201 or NB201Table.from_csv(benchmark_path(args.benchmark))
        row["arch_without_none"] = arch
        row["without_none_test_acc"] = nb201.metrics(nb201.row_of(arch))["cifar10_test_acc"]


def table(args: argparse.Namespace) -> None:
    if not args.results.exists():
        raise SystemExit(f"no results yet: {args.results}")
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    backfill_without_none(rows, args)
    rows.sort(key=lambda r: (r["method"], setting(r), r["seed"], r["date"]))
    print(
        "| setting | seed | epochs | search min | found arch | NB201 C10 test % "
        "| w/o none: test % | skip share | entropy | s/step | step peak MB | est. MB | RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        peak = "-" if r["step_peak_mb"] is None else f"{r['step_peak_mb']:.0f}"
        print(
            f"| {setting(r)} | {r['seed']} | {r['epochs']}/{r['epochs_planned']} "
            f"| {r['search_minutes']:.1f} | {escaped(r['arch'])} "
            f"| {r['nb201_cifar10_test_acc']:.2f} | {without_none(r)} "
            f"| {r['skip_share']:.2f} | {r['entropy']:.2f} | {r['step_seconds_median']:.3f} "
            f"| {peak} | {r['estimated_mb']:.0f} | {r['max_rss_mb']:.0f} |"
        )
    print()
    print(
        "| setting | runs | NB201 C10 test % (mean ± std) | w/o none: mean "
        "| skip share | search min |"
    )
    print("|---|---|---|---|---|---|")
    for name in sorted({setting(r) for r in rows}):
        mine = [r for r in rows if setting(r) == name]
        accs = [r["nb201_cifar10_test_acc"] for r in mine]
        spread = statistics.pstdev(accs) if len(accs) > 1 else 0.0
        print(
            f"| {name} | {len(mine)} | {statistics.mean(accs):.2f} ± {spread:.2f} "
            f"| {mean_without_none(mine)} "
            f"| {statistics.mean(r['skip_share'] for r in mine):.2f} "
            f"| {statistics.mean(r['search_minutes'] for r in mine):.1f} |"
        )


# -- compare -----------------------------------------------------------------------------------


def random_batches(
    count: int, batch_size: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(batch_size, 3, 32, 32, generator=generator),
            torch.randint(0, 10, (batch_size,), generator=generator),
        )
        for _ in range(count)
    ]


def ours(kind: str, space: NB201Space, steps: int) -> OneShotMethod:
    """Our method set up to run exactly the compared epoch of ``steps`` steps (see the module
    docstring): ENAS updates its controller once from ``steps`` samples; SPOS recomputes no
    BatchNorm statistics at the epoch's end and evolves nothing after training."""
    if kind == "enas":
        return ENAS(space, controller_steps=1, controller_aggregate=steps, final_samples=0)
    if kind == "spos":
        return SPOS(space, calibration_batches=0, population_size=2, generations=1, sample_size=1)
    return METHODS[kind](space)


def measure_ours(kind: str, args: argparse.Namespace, seed: int) -> tuple[float, int]:
    """(seconds per search step, allocation peak of an epoch) of our method."""
    steps, batch = args.steps, args.batch_size
    n = 2 * steps * batch
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n + 64, 3, 32, 32, generator=generator).numpy()
    y = (np.arange(n + 64) % 10).astype(np.int64)
    task = make_task("random32", x, y, x[:64], y[:64], normalize=False)
    task = dataclasses.replace(task, x_train=x[:n], y_train=y[:n], x_valid=x[n:], y_valid=y[n:])
    method = ours(kind, NB201Space(channels=args.channels, cells_per_stage=args.cells), steps)
    clock = EpochClock(steps, profiled=2)
    method.search(task, epochs=3, batch_size=batch, seed=seed, threads=args.threads, hooks=[clock])
    assert method.steps_per_epoch_ == steps, method.steps_per_epoch_
    assert clock.peak is not None
    return clock.seconds[1] / steps, clock.peak


def xautodl_epoch(kind: str, args: argparse.Namespace, seed: int) -> Callable[[], None]:
    """One search epoch of xautodl's model for ``kind``, with its scripts' training glue."""
    from xautodl.models import cell_searchs  # type: ignore[import-not-found]
    from xautodl.models.cell_operations import NAS_BENCH_201  # type: ignore[import-not-found]

    steps, batch = args.steps, args.batch_size
    weights_data = random_batches(steps, batch, seed)
    arch_data = random_batches(steps, batch, seed + 1)
    track = kind != "darts"  # DARTS-V1 runs without running statistics, the others with
    torch.manual_seed(seed)
    random.seed(seed)
    model_class = getattr(cell_searchs, XAUTODL_MODELS[kind])
    net = model_class(args.channels, args.cells, 4, 10, NAS_BENCH_201, False, track)
    weights = net.get_weights() if hasattr(net, "get_weights") else list(net.parameters())
    w_opt = torch.optim.SGD(weights, 0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)

    def weight_step(x: torch.Tensor, y: torch.Tensor) -> None:
        w_opt.zero_grad()
        _, logits = net(x)
        F.cross_entropy(logits, y).backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(net.parameters(), 5)
        w_opt.step()

    if kind in ("darts", "gdas"):
        a_opt = torch.optim.Adam(net.get_alphas(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        if kind == "gdas":
            net.set_tau(10.0)

        def gradient_epoch() -> None:
            net.train()
            for (x, y), (xa, ya) in zip(weights_data, arch_data, strict=True):
                if kind == "darts":  # DARTS: architecture step, then weights
                    a_opt.zero_grad()
                    F.cross_entropy(net(xa)[1], ya).backward()  # type: ignore[no-untyped-call]
                    a_opt.step()
                    weight_step(x, y)
                else:  # GDAS: weights, then architecture (each forward samples a path)
                    weight_step(x, y)
                    a_opt.zero_grad()
                    F.cross_entropy(net(xa)[1], ya).backward()  # type: ignore[no-untyped-call]
                    a_opt.step()

        return gradient_epoch
    if kind == "enas":
        controller = net.create_controller()
        c_opt = torch.optim.Adam(controller.parameters(), 1e-2, betas=(0.0, 0.999), eps=1e-3)
        baseline: list[float] = []

        def enas_epoch() -> None:
            net.train()
            for x, y in weights_data:
                with torch.no_grad():
                    _, _, sampled = controller()
                net.update_arch(sampled)
                weight_step(x, y)
            net.eval()  # the controller phase: S samples, one update
            c_opt.zero_grad()
            for xa, ya in arch_data:
                log_prob, entropy, sampled = controller()
                net.update_arch(sampled)
                with torch.no_grad():
                    reward = float((net(xa)[1].argmax(1) == ya).float().mean())
                value = reward + 1e-4 * float(entropy.detach())
                base = value if not baseline else baseline[0] - 0.01 * (baseline[0] - value)
                baseline[:] = [base]
                loss = -log_prob * (value - base) / len(arch_data)
                loss.backward()
            nn.utils.clip_grad_norm_(controller.parameters(), 5.0)
            c_opt.step()

        return enas_epoch

    def random_epoch() -> None:  # RANDOM: a uniform path per weight step
        net.train()
        for x, y in weights_data:
            net.random_genotype(True)
            weight_step(x, y)

    return random_epoch


def measure_xautodl(kind: str, args: argparse.Namespace, seed: int) -> tuple[float, int]:
    epoch = xautodl_epoch(kind, args, seed)
    return measure_epochs(epoch, args.steps)


def measure_epochs(epoch: Callable[[], None], steps: int) -> tuple[float, int]:
    """Warm-up epoch, timed epoch, profiled epoch: (seconds per step, allocation peak)."""
    epoch()
    started = time.perf_counter()
    epoch()
    seconds = (time.perf_counter() - started) / steps
    prof = start_profile()
    epoch()
    return seconds, stop_profile(prof)


NNI_SCRIPT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import torch, torch.nn as nn, torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile
from nni.nas.hub.pytorch import NasBench201
from nni.nas.strategy import DARTS

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.set_flush_denormal(True)
torch.manual_seed(cfg["seed"])
gen = torch.Generator().manual_seed(cfg["seed"])
def batches():
    return [(torch.randn(cfg["batch"], 3, 32, 32, generator=gen),
             torch.randint(0, 10, (cfg["batch"],), generator=gen)) for _ in range(cfg["steps"])]
weights_data, arch_data = batches(), batches()
net = DARTS().mutate_model(NasBench201(cfg["channels"], cfg["cells"], 10))
seen, alphas = set(), []
for m in net.modules():
    if hasattr(m, "arch_parameters"):
        for p in m.arch_parameters():
            if id(p) not in seen:
                seen.add(id(p)); alphas.append(p)
weights = [p for p in net.parameters() if id(p) not in seen]
w_opt = torch.optim.SGD(weights, 0.025, momentum=0.9, weight_decay=5e-4, nesterov=True)
a_opt = torch.optim.Adam(alphas, 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
def epoch():
    net.train()
    for (x, y), (xa, ya) in zip(weights_data, arch_data):
        a_opt.zero_grad(); F.cross_entropy(net(xa), ya).backward(); a_opt.step()
        w_opt.zero_grad(); F.cross_entropy(net(x), y).backward()
        nn.utils.clip_grad_norm_(weights, 5); w_opt.step()
epoch()
start = time.perf_counter(); epoch(); seconds = (time.perf_counter() - start) / cfg["steps"]
with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
    epoch()
events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                if e.name() == "[memory]")
live = peak = 0
for _, size in events:
    live += size; peak = max(peak, live)
print("NNI_RESULT " + json.dumps({"seconds": seconds, "peak": peak,
      "params": sum(p.numel() for p in weights)}))
"""


def measure_nni(args: argparse.Namespace, seed: int) -> tuple[float, int]:
    config = {
        "threads": args.threads,
        "seed": seed,
        "batch": args.batch_size,
        "steps": args.steps,
        "channels": args.channels,
        "cells": args.cells,
    }
    done = subprocess.run(
        [str(args.nni_python), "-c", NNI_SCRIPT, json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": str(args.threads)},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("NNI_RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the NNI measurement failed:\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1].removeprefix("NNI_RESULT "))
    return float(result["seconds"]), int(result["peak"])


def compare(args: argparse.Namespace) -> None:
    if args.xautodl is not None:
        sys.path.insert(0, str(args.xautodl))
    try:
        import xautodl  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        raise SystemExit(
            "xautodl is not importable: pip install --no-deps --target DIR xautodl==1.0.0, "
            "then pass --xautodl DIR"
        ) from None
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    kinds = [k.strip() for k in args.methods.split(",")]
    unknown = sorted(set(kinds) - set(COMPARED))
    if unknown:
        raise SystemExit(f"--compare covers {', '.join(COMPARED)}, not {', '.join(unknown)}")
    sides: list[tuple[str, str, Callable[[int], tuple[float, int]]]] = []
    for kind in kinds:
        sides.append((kind, "ours", functools.partial(measure_ours, kind, args)))
        sides.append((kind, "xautodl", functools.partial(measure_xautodl, kind, args)))
        if kind == "darts" and args.nni_python is not None:
            sides.append((kind, "nni", functools.partial(measure_nni, args)))
    measured: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for round_ in range(args.rounds):
        for kind in kinds:
            mine = [side for side in sides if side[0] == kind]
            for _, who, measure in mine if round_ % 2 == 0 else mine[::-1]:
                seconds, peak = measure(round_)
                measured.setdefault((kind, who), []).append((seconds, peak))
                print(
                    f"round {round_} {kind} {who}: {seconds:.3f} s/step, "
                    f"peak {peak / 2**20:.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
    record = report_comparison(kinds, measured, args)
    args.compare_results.parent.mkdir(parents=True, exist_ok=True)
    with args.compare_results.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def report_comparison(
    kinds: Sequence[str], measured: dict[tuple[str, str], list[tuple[float, int]]], args: Any
) -> dict[str, Any]:
    print(
        f"\nPer search step, batch {args.batch_size} of 32x32, C={args.channels}, "
        f"N={args.cells}, {args.threads} threads, {args.steps} steps an epoch, median of "
        f"{args.rounds} interleaved rounds (load average {os.getloadavg()[0]:.1f}):\n"
    )
    print("| method | reference | ours s/step | ref s/step | time ours/ref | ours peak MB "
          "| ref peak MB | memory ours/ref |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for kind in kinds:
        ours_runs = measured[(kind, "ours")]
        for who in ("xautodl", "nni"):
            if (kind, who) not in measured:
                continue
            ref_runs = measured[(kind, who)]
            time_ratio = statistics.median(
                a[0] / b[0] for a, b in zip(ours_runs, ref_runs, strict=True)
            )
            ours_s = statistics.median(r[0] for r in ours_runs)
            ref_s = statistics.median(r[0] for r in ref_runs)
            ours_mb = statistics.median(r[1] for r in ours_runs) / 2**20
            ref_mb = statistics.median(r[1] for r in ref_runs) / 2**20
            reference = {"xautodl": f"xautodl {XAUTODL_MODELS[kind]}", "nni": "NNI 3.0 DARTS"}
            print(
                f"| {kind} | {reference[who]} | {ours_s:.3f} | {ref_s:.3f} | {time_ratio:.2f} "
                f"| {ours_mb:.1f} | {ref_mb:.1f} | {ours_mb / ref_mb:.2f} |"
            )
            rows.append(
                {
                    "method": kind,
                    "reference": who,
                    "ours_seconds": ours_s,
                    "ref_seconds": ref_s,
                    "time_ratio": time_ratio,
                    "ours_peak_mb": ours_mb,
                    "ref_peak_mb": ref_mb,
                }
            )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "channels": args.channels,
        "cells_per_stage": args.cells,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "steps": args.steps,
        "rounds": args.rounds,
        "load_average": os.getloadavg()[0],
        "rows": rows,
    }


# -- versus: this checkout against another ---------------------------------------------------


class LaterSteps(TrainerHooks):
    """The time of every step (``on_batch_start`` to ``on_batch_end``) after the first epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._epoch, self._start = 0, 0.0

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        self._epoch = epoch

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        self._start = time.perf_counter()

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        if self._epoch > 0:
            self.times.append(time.perf_counter() - self._start)


def worker(args: argparse.Namespace) -> None:
    """``--worker``: for each line ``KIND SEED`` on stdin, a search of ``--epochs`` epochs of
    ``--steps`` steps on random images, and one JSON line with the step times after the
    first epoch (for ``--versus``)."""
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    import nasforge

    steps, batch = args.steps, args.batch_size
    n = 2 * steps * batch
    for line in sys.stdin:
        kind, seed = line.split()[0], int(line.split()[1])
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(n + 64, 3, 32, 32, generator=generator).numpy()
        y = (np.arange(n + 64) % 10).astype(np.int64)
        task = make_task("random32", x, y, x[:64], y[:64], normalize=False)
        task = dataclasses.replace(task, x_train=x[:n], y_train=y[:n], x_valid=x[n:], y_valid=y[n:])
        method = ours(kind, NB201Space(channels=args.channels, cells_per_stage=args.cells), steps)
        clock = LaterSteps()
        method.search(
            task, epochs=int(args.epochs), batch_size=batch, seed=seed, threads=args.threads,
            hooks=[clock],
        )  # fmt: skip
        print(json.dumps({"times": clock.times, "nasforge": nasforge.__file__}), flush=True)


def versus(args: argparse.Namespace) -> None:
    """This checkout ("after") against the one in ``--versus`` ("before"): two worker
    processes, alternating which goes first from round to round."""
    kinds = [k.strip() for k in args.methods.split(",")]
    sources = {"before": args.versus.resolve() / "src", "after": REPO_ROOT / "src"}
    if args.epochs == "auto":  # a warm-up epoch and two timed ones
        args.epochs = "3"
    command = [
        sys.executable, __file__, "--worker", "--channels", str(args.channels),
        "--cells", str(args.cells), "--batch-size", str(args.batch_size),
        "--threads", str(args.threads), "--steps", str(args.steps), "--epochs", str(args.epochs),
    ]  # fmt: skip
    workers = {
        who: subprocess.Popen(
            command,
            env={**os.environ, "PYTHONPATH": str(src)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for who, src in sources.items()
    }
    medians: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(args.rounds):
            for kind in kinds:
                order = list(workers) if round_ % 2 == 0 else list(workers)[::-1]
                for who in order:
                    process = workers[who]
                    assert process.stdin is not None and process.stdout is not None
                    process.stdin.write(f"{kind} {round_}\n")
                    process.stdin.flush()
                    row = json.loads(process.stdout.readline())
                    assert row["nasforge"].startswith(str(sources[who])), row["nasforge"]
                    median = statistics.median(row["times"])
                    medians.setdefault((kind, who), []).append(median)
                    print(
                        f"round {round_} {kind} {who}: {median:.4f} s/step "
                        f"(median of {len(row['times'])})",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        for process in workers.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    print(
        f"\nPer search step (median over the steps of epochs 2-{args.epochs}), batch "
        f"{args.batch_size} of 32x32, C={args.channels}, N={args.cells}, {args.threads} "
        f"threads, {args.steps} steps an epoch, {args.rounds} interleaved rounds (load "
        f"average {os.getloadavg()[0]:.1f}):\n"
    )
    print("| method | before s/step | after s/step | after/before (median of rounds) | range |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        before, after = medians[(kind, "before")], medians[(kind, "after")]
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        print(
            f"| {kind} | {statistics.median(before):.4f} | {statistics.median(after):.4f} "
            f"| {statistics.median(ratios):.3f} | {min(ratios):.2f}-{max(ratios):.2f} |"
        )


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--table", action="store_true", help="Print the table of stored rows.")
    mode.add_argument("--compare", action="store_true", help="Ours vs the references.")
    mode.add_argument("--versus", type=Path, default=None, help="This checkout vs one in DIR.")
    mode.add_argument("--worker", action="store_true", help="For --versus.")
    parser.add_argument("--method", choices=sorted(METHODS), default="darts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A constructor option of the method (repeatable), e.g. arch_lr=3e-3.",
    )
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--benchmark", type=Path, default=None)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", default="auto", help="A number, or auto (fit the budget).")
    parser.add_argument("--max-minutes", type=float, default=20.0)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--results", type=Path, default=RESULTS / "oneshot_nb201.jsonl")
    parser.add_argument("--methods", default=",".join(COMPARED), help="For --compare.")
    parser.add_argument("--rounds", type=int, default=3, help="For --compare.")
    parser.add_argument("--steps", type=int, default=10, help="Steps an epoch, for --compare.")
    parser.add_argument("--xautodl", type=Path, default=None, help="Folder holding xautodl.")
    parser.add_argument("--nni-python", type=Path, default=None, help="Python with nni 3.0.")
    parser.add_argument("--compare-results", type=Path, default=RESULTS / "oneshot_compare.jsonl")
    args = parser.parse_args()
    if args.epochs != "auto" and not args.epochs.isdigit():
        parser.error(f"--epochs must be a number or auto, not {args.epochs!r}")
    if args.table:
        table(args)
    elif args.compare:
        compare(args)
    elif args.versus is not None:
        versus(args)
    elif args.worker:
        worker(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
