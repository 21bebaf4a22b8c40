"""Image folders that stream: training throughput against the in-memory path, and the peak
memory of a search over 12,000 and 60,000 images (issue 29, items 4 and 6).

The folders. The CIFAR-10 subset (``cifar10_small.npz``: 10,000 train and 2,000 test images,
32x32) is written as PNG files in ImageNet's layout, ``ROOT/train/CLASS/*.png`` and
``ROOT/test/CLASS/*.png``, under a temporary folder:

- ``12k``: the 12,000 images as they are;
- ``60k``: every image five times, as itself and as four distinct variants (a horizontal flip,
  and crops shifted by (2, -2), (-3, 1) and, flipped, (1, 3) pixels from a 4-pixel reflect
  padding), so 50,000 train and 10,000 test files, all different. CIFAR-10 has 60,000 images
  but the shared data holds 12,000, hence the variants.

Part (a), throughput. On ``12k``, the main job's network size (NB201 C=8, N=1, one cell:
``CELL``) is trained by the `Trainer` for one epoch of ``--steps`` batches of 64 with crop
and flip augmentation, ``--threads`` torch threads, from the same initial weights on the same
batches, four ways: the in-memory path (the task's images decoded into arrays before the
fit) and streaming from the PNG files with 0, 1 and 2 loader workers. The timed window runs
from the fit's start to its last optimizer step (so it includes starting the worker
processes, and excludes the validation pass: the valid split is cut to 64 images). Rounds
are interleaved; the script prints the median examples per second of each way and the median
of the per-round ratios to the in-memory path.

Part (b), peak memory. ``nasforge search --task images`` runs as a subprocess on each folder
(``--budget 1 --epochs 1 --final-epochs 0 --workers 1 --loader-workers 2 --image-size 8
--time-limit T``): the task is loaded (every file decoded once to check it), one candidate
trains at 8x8 (the main job's digits size; the files are still decoded at 32x32 and resized)
for one epoch or until ``--time-limit`` seconds (``--search-seconds``; then the trial ends as
failed by the time limit), and is validated on the whole validation split. Its peak
resident memory is the largest sum of RSS over the process and all its descendants
(search workers, loader workers), sampled from ``/proc/PID/smaps_rollup`` every 0.2 s; the
sum of PSS beside it counts the pages that forked workers share once.

Usage::

    python benchmarks/image_streaming.py --data ../shared/data/cifar10_small.npz

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

CELL = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "nor_conv_3x3~2|"
)
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
SHIFTS = ((0, 0, False), (0, 0, True), (2, -2, False), (-3, 1, False), (1, 3, True))
"""(dy, dx, flip) of the five versions of each image in the 60k folder."""


def variant(image: np.ndarray, dy: int, dx: int, flip: bool) -> np.ndarray:
    """``image`` (H, W, 3) shifted by (dy, dx) within a 4-pixel reflect padding, maybe flipped."""
    if dy or dx:
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode="reflect")
        h, w = image.shape[:2]
        image = padded[4 + dy : 4 + dy + h, 4 + dx : 4 + dx + w]
    return image[:, ::-1] if flip else image


def write_folder(npz: Path, root: Path, copies: int) -> float:
    """Write ``copies`` versions of each image as PNG files; returns the seconds taken."""
    start = time.perf_counter()
    with np.load(npz) as data:
        splits = {s: (data[f"x_{s}"], data[f"y_{s}"]) for s in ("train", "test")}
    for split, (x, y) in splits.items():
        for name in CLASSES:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for index, (image, label) in enumerate(zip(x, y, strict=True)):
            for version, (dy, dx, flip) in enumerate(SHIFTS[:copies]):
                path = root / split / CLASSES[int(label)] / f"{index:05d}_{version}.png"
                Image.fromarray(np.ascontiguousarray(variant(image, dy, dx, flip))).save(path)
    return time.perf_counter() - start


def throughput(folder: Path, steps: int, rounds: int, threads: int) -> None:
    import torch

    from nasforge.data.images import load_image_task
    from nasforge.space import make_space
    from nasforge.training import TrainConfig, Trainer, TrainerHooks

    class Clock(TrainerHooks):
        def on_fit_start(self, model: object, task: object) -> None:
            self.start = time.perf_counter()

        def on_batch_end(self, step: int, model: object, loss: float) -> None:
            self.end = time.perf_counter()

    started = time.perf_counter()
    task = load_image_task(folder, image_size=32)
    print(f"loaded {task.summary()} in {time.perf_counter() - started:.1f} s", flush=True)
    n = 64 * steps
    streamed = replace(
        task,
        x_train=task.x_train.take(np.arange(n)),  # type: ignore[union-attr]
        y_train=task.y_train[:n],
        x_valid=task.x_valid.take(np.arange(64)),  # type: ignore[union-attr]
        y_valid=task.y_valid[:64],
    )
    ways = {"in memory": replace(streamed, x_train=np.asarray(streamed.x_train))}
    for workers in (0, 1, 2):
        ways[f"{workers} loader workers"] = replace(
            streamed,
            x_train=replace(streamed.x_train, workers=workers),  # type: ignore[type-var]
        )
    space = make_space("nb201", channels=8, cells_per_stage=1)
    arch = space.parse(CELL)
    torch.manual_seed(0)
    initial = space.build(arch, task.input_shape, task.num_classes).state_dict()
    config = TrainConfig(epochs=1, batch_size=64, augment=True, threads=threads)
    rates: dict[str, list[float]] = {way: [] for way in ways}
    warm = space.build(arch, task.input_shape, task.num_classes)
    Trainer(replace(config, epochs=1)).fit(warm, ways["in memory"])  # warm-up, untimed
    for round_ in range(rounds):
        for way, data in ways.items():
            model = space.build(arch, task.input_shape, task.num_classes)
            model.load_state_dict(initial)
            clock = Clock()
            Trainer(config, hooks=[clock]).fit(model, data)
            rates[way].append(n / (clock.end - clock.start))
        print(f"round {round_ + 1}: " + ", ".join(f"{w} {r[-1]:.0f}/s" for w, r in rates.items()))
    print(f"\n| way | examples/s (median of {rounds}) | per round | ratio to in memory |")
    print("|---|---|---|---|")
    base = rates["in memory"]
    for way, rate in rates.items():
        ratio = statistics.median(r / b for r, b in zip(rate, base, strict=True))
        rounds_text = "/".join(f"{r:.0f}" for r in rate)
        print(f"| {way} | {statistics.median(rate):.0f} | {rounds_text} | {ratio:.2f} |")


def tree_rss(pid: int) -> tuple[int, int]:
    """Bytes of resident memory (RSS, and PSS: shared pages split between their processes)
    of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    rss, pss, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


def search_memory(folder: Path, work: Path, limit: float) -> tuple[float, float, float]:
    """Peak RSS and PSS (MiB) of the process tree of a small search over ``folder``, and
    its seconds."""
    work.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "nasforge.cli", "search", "--task", "images",
        "--data", str(folder), "--image-size", "8", "--loader-workers", "2",
        "--budget", "1", "--epochs", "1", "--final-epochs", "0", "--workers", "1",
        "--time-limit", str(limit), "--store", str(work / "store.sqlite"),
        "--out", str(work / "win"),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, peak_pss = 0, 0
    while process.poll() is None:
        rss, pss = tree_rss(process.pid)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    assert process.stderr is not None
    lines = process.stderr.read().decode().strip().splitlines()
    print(f"  exit {process.returncode}; last line: {lines[-1] if lines else ''}", flush=True)
    return peak / 2**20, peak_pss / 2**20, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cifar10_small.npz"))
    parser.add_argument("--steps", type=int, default=20, help="training batches a timed fit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", choices=("throughput", "memory"), default=None)
    parser.add_argument(
        "--search-seconds", type=float, default=3600.0, help="time limit of part (b)'s trial"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="reuse (or keep) the folders written here"
    )
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="nasforge-images-"))
    try:
        if not (root / "12k").is_dir():
            seconds = write_folder(args.data, root / "12k", 1)
            print(f"wrote 12,000 PNG files in {seconds:.1f} s", flush=True)
        if args.skip != "throughput":
            throughput(root / "12k", args.steps, args.rounds, args.threads)
        if args.skip != "memory":
            if not (root / "60k").is_dir():
                seconds = write_folder(args.data, root / "60k", len(SHIFTS))
                print(f"wrote 60,000 PNG files in {seconds:.1f} s", flush=True)
            peaks: dict[str, tuple[float, float]] = {}
            for name in ("12k", "60k"):
                run = root / f"run-{name}"
                shutil.rmtree(run, ignore_errors=True)
                peak, pss, took = search_memory(root / name, run, args.search_seconds)
                peaks[name] = (peak, pss)
                print(
                    f"search over {name}: peak RSS {peak:.0f} MiB, PSS {pss:.0f} MiB, {took:.0f} s",
                    flush=True,
                )
            print(
                f"ratio 60k/12k: RSS {peaks['60k'][0] / peaks['12k'][0]:.2f}, "
                f"PSS {peaks['60k'][1] / peaks['12k'][1]:.2f}"
            )
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
