"""A check of the GPU path, to run on a machine with a CUDA GPU (under 5 minutes there).

Runs, through the CLI in this process, on the GPU and on the CPU: a short training search,
each one-shot method, the zero-cost proxies, training in fp16 and in bf16, and a save ->
load -> predict round trip (the model trained on the GPU, predicted on the CPU, compared
with its predictions on the GPU). Then it times the main job's training step (NB201 C=8,
N=1 on digits, batch 64) in fp32, bf16 and fp16 on each device. It prints a table of what
ran (ok or the error), seconds on each device, and the peak GPU memory of each check
(``torch.cuda.max_memory_allocated``).

Without a GPU it says so, runs the CPU column only, and exits 0 (so the script itself is
checked on machines without one). It exits 1 if a check fails.

Usage::

    python benchmarks/gpu_check.py [--quick]

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data.loaders import load_digits_task
from nasforge.space.nb201.space import NB201Space
from nasforge.training import TrainConfig, Trainer

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
TINY = ["-s", "channels=8", "-s", "cells_per_stage=1"]
METHODS = ("darts", "darts2", "gdas", "enas", "spos", "beta-darts", "pc-darts")
runner = CliRunner()


def cli(*args: str) -> str:
    """Run a nasforge command in this process; its stdout, or an error naming its stderr."""
    result = runner.invoke(app, list(args))
    if result.exit_code != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    return str(result.stdout)


def checks(work: Path, device: str) -> dict[str, Callable[[], None]]:
    """Each check on ``device``, writing under ``work``."""
    where = ["--device", device]
    x = work / "x.npz"
    np.savez(x, x=load_digits_task().x_test[:64])

    def search() -> None:
        cli("search", "--budget", "4", "--epochs", "2", "--final-epochs", "0", "--workers", "1",
            *TINY, "--store", str(work / f"search-{device}.sqlite"), "--json", *where)  # fmt: skip

    def oneshot(method: str) -> Callable[[], None]:
        def run() -> None:
            cli("oneshot", "--method", method, *TINY, "--epochs", "1", "--json", *where)

        return run

    def proxies() -> None:
        names = ["--proxy", "synflow", "--proxy", "snip", "--proxy", "jacov"]
        cli("proxies", "--space", "nb201", *TINY, "--task", "digits", "--sample", "16",
            *names, "--json", *where)  # fmt: skip

    def train(precision: str) -> Callable[[], None]:
        def run() -> None:
            out = work / f"train-{device}-{precision}"
            cli("train", CELL, *TINY, "--epochs", "2", "--precision", precision,
                "--out", str(out), "--json", *where)  # fmt: skip

        return run

    def round_trip() -> None:
        out = work / f"model-{device}"
        cli("train", CELL, *TINY, "--epochs", "2", "--out", str(out), "--json", *where)
        here = json.loads(cli("predict", str(out), "--data", str(x), "--proba", "--json", *where))
        cpu = json.loads(cli("predict", str(out), "--data", str(x), "--proba", "--json",
                             "--device", "cpu"))  # fmt: skip
        if here["predictions"] != cpu["predictions"]:
            raise RuntimeError("predictions on the CPU differ from those on the device")

    named: dict[str, Callable[[], None]] = {"search (train 4 candidates)": search}
    named.update({f"oneshot {m}": oneshot(m) for m in METHODS})
    named["proxies (synflow, snip, jacov)"] = proxies
    named["train fp16"] = train("fp16")
    named["train bf16"] = train("bf16")
    named["save, load, predict"] = round_trip
    return named


def run_check(check: Callable[[], None], device: str) -> tuple[str, float, float | None]:
    """(status, seconds, peak GPU MB or None)."""
    on_gpu = device.startswith("cuda")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        check()
        status = "ok"
    except Exception as exc:  # a check that fails is reported, and the others still run
        status = f"FAILED: {type(exc).__name__}: {str(exc)[:80]}"
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None
    return status, seconds, peak


def step_ms(device: str, precision: str) -> float:
    """Milliseconds per training step of the main job's candidate (C=8, N=1, batch 64)."""
    task = load_digits_task()
    space = NB201Space(channels=8, cells_per_stage=1)
    model = space.build(space.parse(CELL), task.input_shape, task.num_classes)
    config = TrainConfig(epochs=1, device=device, precision=precision, threads=None)
    trainer = Trainer(config)
    report = trainer.fit(model, task)  # warm-up, and the step count of an epoch
    report = trainer.fit(model, task)
    return 1000.0 * report.seconds / max(report.steps, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Only darts of the methods.")
    args = parser.parse_args()
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.insert(0, "cuda")
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    else:
        print("No CUDA GPU here: the GPU column is not run (the CPU column only); run this "
              "script on a machine with a GPU to check the GPU path.")  # fmt: skip
    torch.set_flush_denormal(True)
    table: dict[str, dict[str, tuple[str, float, float | None]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for device in devices:
            work = Path(folder) / device
            work.mkdir()
            for name, check in checks(work, device).items():
                if args.quick and name.startswith("oneshot") and name != "oneshot darts":
                    continue
                table.setdefault(name, {})[device] = run_check(check, device)
                print(f"  {device:4} {name}: {table[name][device][0]} "
                      f"({table[name][device][1]:.1f} s)", flush=True)  # fmt: skip
    print()
    header = f"{'check':32} " + " ".join(f"{d + ' status':>12} {d + ' s':>8}" for d in devices)
    header += f" {'peak GPU MB':>12}" if "cuda" in devices else ""
    print(header)
    failed = False
    for name, results in table.items():
        cells = []
        for device in devices:
            status, seconds, _ = results[device]
            failed = failed or status != "ok"
            cells.append(f"{status[:12]:>12} {seconds:8.1f}")
        line = f"{name:32} " + " ".join(cells)
        if "cuda" in devices:
            line += f" {results['cuda'][2] or 0:12.1f}"
        print(line)
    print()
    print(f"{'training step (ms)':32} " + " ".join(f"{d:>12}" for d in devices))
    for precision in ("fp32", "bf16", "fp16"):
        times = [step_ms(device, precision) for device in devices]
        print(f"{'  ' + precision:32} " + " ".join(f"{t:12.1f}" for t in times))
    print(f"\nall checks took {time.perf_counter() - started:.0f} s")
    for name, results in table.items():
        for status, _, _ in results.values():
            if status != "ok":
                print(f"failed: {name}: {status}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
