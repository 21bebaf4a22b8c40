"""Training throughput of nasforge's `Trainer` beside a plain PyTorch loop, and their accuracy.

Part 1 (throughput). For each NB201 cell (C=16, N=5, 32x32 CIFAR-10 input, batch 64, 2
threads, flush denormals on) the same model (same initial weights) is trained on the same
batches with the same optimizer settings (SGD, Nesterov momentum 0.9, the TrainConfig's lr,
weight decay, per-step cosine schedule and gradient-norm clipping) two ways:

- trainer: one ``Trainer.fit`` call with ``epochs=1`` on a Task of ``64 * steps`` training
  images, so the fit makes exactly ``steps`` optimizer steps. The timed window is the whole
  ``fit`` call minus its validation pass (measured by a hook: from the last ``on_batch_end``
  to ``on_epoch_end``); the valid split is also cut to 64 images. So it includes the fit's
  setup (numpy -> tensor copies of the subset, optimizer and schedule creation) and every
  per-step cost of the loop (indexing, ``loss.item()``, hooks, accuracy bookkeeping).
- plain: a hand-written loop over the same ``steps`` batches (same ``torch.randperm``
  shuffle from a generator seeded like the Trainer's). The timed window is optimizer and
  schedule creation plus the steps; the data are torch tensors made before timing.

Before the timed rounds each way makes a short untimed warm-up fit of ``--warmup`` steps.
The timed runs are interleaved (trainer, plain, trainer, plain, ...) for ``--rounds`` rounds,
each from the same fresh copy of the initial weights, and the median images per second of
each way is reported with the ratio of the medians and the median of the per-round
trainer/plain ratios (adjacent runs see similar machine load, so the paired ratio is the
more robust number on a busy machine).

Part 2 (accuracy). A smaller network (default C=8, N=1, the NB201 optimum cell, row 6111) is
trained for ``--acc-epochs`` epochs on the whole training split of the task (9,000 images of
cifar10_small.npz, 1,000 held out for validation) by the Trainer and by the plain loop (same
initial weights, same shuffles), and the final validation accuracy of each is printed, with
the largest difference between their per-step training losses. A second Trainer fit with
another seed (other initial weights and shuffles) shows the size of seed noise.

Usage::

    python benchmarks/train_throughput.py --data ../shared/data/cifar10_small.npz

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.data.loaders import DATA_ENV, load_npz_task
from nasforge.data.task import DataError, Task
from nasforge.space import NB201Space
from nasforge.training.trainer import EpochMetrics, TrainConfig, Trainer, TrainerHooks

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "cifar10_small.npz"

ARCHS: tuple[tuple[str, str], ...] = (
    (
        "all-conv3x3",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
        "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ),
    (
        "NB201 optimum (row 6111)",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
        "|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    ),
)
OPTIMUM = ARCHS[1][1]
RANDOM_CANDIDATES = 25
"""The median-ish random cell: median parameter count of this many uniform samples (seed 0)."""


# -- the two ways of training -----------------------------------------------------------
class Clock(TrainerHooks):
    """Records when the fit's last optimizer step ended and when its validation ended."""

    def __init__(self) -> None:
        self.last_batch_end = 0.0
        self.epoch_end = 0.0
        self.losses: list[float] = []
        self.keep_losses = False

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.last_batch_end = time.perf_counter()
        if self.keep_losses:
            self.losses.append(loss)

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> None:
        self.epoch_end = time.perf_counter()


def trainer_fit(
    model: nn.Module, task: Task, config: TrainConfig, keep_losses: bool = False
) -> tuple[float, float, list[float]]:
    """(seconds of fit minus validation, last valid accuracy, per-step losses if kept)."""
    clock = Clock()
    clock.keep_losses = keep_losses
    trainer = Trainer(config, hooks=[clock])
    start = time.perf_counter()
    report = trainer.fit(model, task)
    seconds = time.perf_counter() - start
    if config.epochs == 1:
        seconds -= clock.epoch_end - clock.last_batch_end
    return seconds, report.last_valid_accuracy, clock.losses


def cosine_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def plain_fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    keep_losses: bool = False,
) -> tuple[float, list[float]]:
    """A plain loop with the Trainer's settings; (seconds, per-step losses if kept).

    No ``.item()`` per step (losses, if kept, stay tensors until the end), no hooks, no
    accuracy bookkeeping, no time-limit or divergence checks.
    """
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = math.ceil(len(y) / config.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    schedule = cosine_schedule(optimizer, config.epochs * steps_per_epoch)
    losses: list[torch.Tensor] = []
    model.train()
    if config.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    for _ in range(config.epochs):
        for batch in torch.split(torch.randperm(len(y), generator=generator), config.batch_size):
            xb, yb = x[batch], y[batch]
            if config.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            assert config.grad_clip is not None
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            if keep_losses:
                losses.append(loss.detach())
    seconds = time.perf_counter() - start
    return seconds, [float(v) for v in losses]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1024) -> float:
    x = x.contiguous(memory_format=torch.channels_last) if is_channels_last(model) else x
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in zip(torch.split(x, batch), torch.split(y, batch), strict=True):
            correct += int((model(xb).argmax(1) == yb).sum())
    model.train()
    return correct / len(y)


def is_channels_last(model: nn.Module) -> bool:
    weights = [p for p in model.parameters() if p.ndim == 4]
    return bool(weights) and weights[0].is_contiguous(memory_format=torch.channels_last)


# -- data ---------------------------------------------------------------------------------
def subset(task: Task, train: int, valid: int) -> Task:
    """The first `train` training and `valid` validation examples of `task`."""
    return replace(
        task,
        x_train=task.x_train[:train],
        y_train=task.y_train[:train],
        x_valid=task.x_valid[:valid],
        y_valid=task.y_valid[:valid],
    )


def tensors(task: Task) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.tensor(np.asarray(task.x_train), dtype=torch.float32),
        torch.tensor(np.asarray(task.y_train), dtype=torch.int64),
        torch.tensor(np.asarray(task.x_valid), dtype=torch.float32),
        torch.tensor(np.asarray(task.y_valid), dtype=torch.int64),
    )


# -- part 1: throughput -------------------------------------------------------------------
@dataclass(frozen=True)
class Throughput:
    label: str
    params: int
    trainer: list[float]  # images per second, one per round
    plain: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.trainer) / statistics.median(self.plain)

    @property
    def paired_ratio(self) -> float:
        """Median over rounds of trainer/plain within a round (robust to load changes)."""
        return statistics.median(t / p for t, p in zip(self.trainer, self.plain, strict=True))


def median_random_cell(space: NB201Space) -> str:
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(RANDOM_CANDIDATES)]
    ranked = sorted(cells, key=lambda a: (count_params(space.build(a)), space.format(a)))
    return space.format(ranked[len(ranked) // 2])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure(
    label: str, cell: str, task: Task, args: argparse.Namespace, config: TrainConfig
) -> Throughput:
    space = NB201Space(channels=16, cells_per_stage=5)
    torch.manual_seed(args.seed)
    initial = space.build(space.parse(cell), input_shape=task.input_shape, num_classes=10)
    timed = subset(task, args.batch_size * args.steps, args.batch_size)
    warm = subset(task, args.batch_size * args.warmup, args.batch_size)
    x, y, _, _ = tensors(timed)
    xw, yw, _, _ = tensors(warm)
    trainer_fit(copy.deepcopy(initial), warm, config)
    plain_fit(copy.deepcopy(initial), xw, yw, config)
    images = args.batch_size * args.steps
    trainer_rates: list[float] = []
    plain_rates: list[float] = []
    for _ in range(args.rounds):
        seconds, _, _ = trainer_fit(copy.deepcopy(initial), timed, config)
        trainer_rates.append(images / seconds)
        seconds, _ = plain_fit(copy.deepcopy(initial), x, y, config)
        plain_rates.append(images / seconds)
    result = Throughput(label, count_params(initial), trainer_rates, plain_rates)
    print(
        f"  {label}: trainer {fmt_rates(trainer_rates)} img/s, plain {fmt_rates(plain_rates)} "
        f"img/s, ratio {result.ratio:.3f}, paired {result.paired_ratio:.3f}",
        file=sys.stderr,
    )
    return result


def fmt_rates(rates: Sequence[float]) -> str:
    return "/".join(f"{r:.1f}" for r in rates)


# -- part 2: accuracy ---------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyResult:
    trainer: float
    plain: float
    trainer_other_seed: float
    max_loss_diff: float
    steps: int
    trainer_seconds: float
    plain_seconds: float


def accuracy_check(task: Task, args: argparse.Namespace, config: TrainConfig) -> AccuracyResult:
    space = NB201Space(channels=args.acc_channels, cells_per_stage=args.acc_cells)
    arch = space.parse(OPTIMUM)
    cfg = replace(config, epochs=args.acc_epochs)
    torch.manual_seed(args.seed)
    initial = space.build(arch, input_shape=task.input_shape, num_classes=10)
    x, y, xv, yv = tensors(task)
    trainer_model = copy.deepcopy(initial)
    t_seconds, t_acc, t_losses = trainer_fit(trainer_model, task, cfg, keep_losses=True)
    print(f"  trainer: valid acc {t_acc:.4f} ({t_seconds:.0f} s)", file=sys.stderr)
    plain_model = copy.deepcopy(initial)
    p_seconds, p_losses = plain_fit(plain_model, x, y, cfg, keep_losses=True)
    p_acc = accuracy(plain_model, xv, yv)
    print(f"  plain: valid acc {p_acc:.4f} ({p_seconds:.0f} s)", file=sys.stderr)
    torch.manual_seed(args.seed + 1)
    other = space.build(arch, input_shape=task.input_shape, num_classes=10)
    _, o_acc, _ = trainer_fit(other, task, replace(cfg, seed=cfg.seed + 1))
    print(f"  trainer, seed {cfg.seed + 1}: valid acc {o_acc:.4f}", file=sys.stderr)
    diff = max(abs(a - b) for a, b in zip(t_losses, p_losses, strict=True))
    return AccuracyResult(t_acc, p_acc, o_acc, diff, len(t_losses), t_seconds, p_seconds)


# -- report -------------------------------------------------------------------------------
def report(
    argv: Sequence[str],
    args: argparse.Namespace,
    config: TrainConfig,
    rows: Sequence[Throughput],
    cells: dict[str, str],
    acc: AccuracyResult | None,
    task: Task,
) -> str:
    command = shlex.join(["python", "benchmarks/train_throughput.py", *argv])
    lines = [
        f"Command: `{command}`",
        "",
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs. Settings of both ways: batch {config.batch_size}, "
        f"{config.threads} threads, flush denormals on, SGD Nesterov momentum 0.9, "
        f"lr {config.lr}, weight decay {config.weight_decay}, per-step cosine to 0, "
        f"grad-norm clip {config.grad_clip}, channels_last {config.channels_last}, "
        f"no augmentation.",
        "",
        f"Throughput: NB201 C=16, N=5 on 32x32 CIFAR-10; {args.steps} timed steps "
        f"({args.batch_size * args.steps} images) per run after a {args.warmup}-step warm-up, "
        f"trainer and plain runs interleaved for {args.rounds} rounds; median img/s "
        f"(all rounds in brackets). trainer/plain: ratio of the medians; paired ratio: median "
        "over rounds of the trainer/plain ratio within a round.",
        "",
        "| cell | params | trainer img/s | plain img/s | trainer/plain | paired ratio |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.params:,} | {statistics.median(row.trainer):.1f} "
            f"({fmt_rates(row.trainer)}) | {statistics.median(row.plain):.1f} "
            f"({fmt_rates(row.plain)}) | {row.ratio:.3f} | {row.paired_ratio:.3f} |"
        )
    lines.append("")
    lines.append("Cells:")
    lines.extend(f"- {label}: `{cell}`" for label, cell in cells.items())
    if acc is not None:
        lines += [
            "",
            f"Accuracy: NB201 C={args.acc_channels}, N={args.acc_cells}, optimum cell (row "
            f"6111), {args.acc_epochs} epochs on {len(task.y_train):,} training images "
            f"({acc.steps} steps), same initial weights and shuffles; validation accuracy "
            f"on {len(task.y_valid):,} held-out images.",
            "",
            "| way | final valid acc | train seconds |",
            "|---|---|---|",
            f"| trainer | {acc.trainer:.4f} | {acc.trainer_seconds:.1f} |",
            f"| plain | {acc.plain:.4f} | {acc.plain_seconds:.1f} |",
            f"| trainer, seed {config.seed + 1} (noise reference) | "
            f"{acc.trainer_other_seed:.4f} | – |",
            "",
            "Largest difference between the two ways' per-step training losses: "
            + (
                "0 (identical at every step)."
                if acc.max_loss_diff == 0
                else f"{acc.max_loss_diff:.3g}."
            ),
        ]
    return "\n".join(lines) + "\n"


# -- command line -------------------------------------------------------------------------
def default_data() -> Path:
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else DEFAULT_DATA


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Trainer vs plain PyTorch loop: images per second and final accuracy."
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"cifar10 .npz (default: ${DATA_ENV}, else {DEFAULT_DATA})",
    )
    parser.add_argument("--steps", type=int, default=8, help="timed steps per run (8)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up steps (2)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels-last", action="store_true", help="channels_last in both ways")
    parser.add_argument("--acc-epochs", type=int, default=4, help="0 skips the accuracy part")
    parser.add_argument("--acc-channels", type=int, default=8)
    parser.add_argument("--acc-cells", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    for name in ("steps", "warmup", "rounds", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.data = args.data or default_data()
    if not args.data.is_file():
        parser.error(
            f"data file not found: {args.data} (pass --data or set ${DATA_ENV}; see "
            "../shared/data/README.md for cifar10_small.npz)"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        task = load_npz_task("cifar10", args.data, seed=args.seed)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if task.input_shape != (3, 32, 32):
        print(
            f"error: expected 3x32x32 images, {args.data} has {task.input_shape}", file=sys.stderr
        )
        return 2
    needed = args.batch_size * args.steps
    if len(task.y_train) < needed:
        print(f"error: {needed} training images needed, {len(task.y_train)} found", file=sys.stderr)
        return 2
    config = TrainConfig(
        epochs=1,
        batch_size=args.batch_size,
        threads=args.threads,
        seed=args.seed,
        channels_last=args.channels_last,
    )
    torch.set_num_threads(args.threads)  # the plain loop's threads (the Trainer sets its own)
    torch.set_flush_denormal(True)  # the Trainer turns it on too (process-wide)
    space = NB201Space(channels=16, cells_per_stage=5)
    cells = dict(ARCHS)
    cells["median random cell"] = median_random_cell(space)
    started = time.perf_counter()
    print(f"throughput ({task.summary()}):", file=sys.stderr)
    rows = [measure(label, cell, task, args, config) for label, cell in cells.items()]
    acc = None
    if args.acc_epochs > 0:
        print("accuracy:", file=sys.stderr)
        acc = accuracy_check(task, args, config)
    print(f"total wall time: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    text = report(argv, args, config, rows, cells, acc, task)
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
