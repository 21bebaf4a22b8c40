"""Training throughput of nasforge's `Trainer` beside a plain PyTorch loop, and their accuracy.

Part 1 (throughput). For each case and NB201 cell the same model (same initial weights) is
trained on the same batches with the same optimizer settings (SGD, Nesterov momentum 0.9,
the TrainConfig's lr, weight decay, per-step cosine schedule and gradient-norm clipping,
batch 64, ``--threads`` threads, flush denormals on) three ways:

- trainer: one ``Trainer.fit`` call with the TrainConfig defaults (channels_last for image
  inputs, fused SGD) and ``epochs=1`` on a Task of ``64 * steps`` training images, so the fit
  makes exactly ``steps`` optimizer steps. The timed window is the whole ``fit`` call minus
  its validation pass (measured by a hook: from the last ``on_batch_end`` to
  ``on_epoch_end``); the valid split is also cut to 64 images. So it includes the fit's setup
  (numpy -> tensor copies of the subset, the memory-format conversions, optimizer and
  schedule creation) and every per-step cost of the loop (indexing, ``loss.item()``, hooks,
  accuracy bookkeeping).
- trainer, channels_last off: the same with ``channels_last=False`` (what channels_last
  adds, measured rather than assumed).
- plain: a hand-written eager loop as one would write it with PyTorch's defaults
  (contiguous tensors, the default SGD implementation, ``clip_grad_norm_`` over
  ``model.parameters()``) over the same ``steps`` batches (same ``torch.randperm`` shuffle
  from a generator seeded like the Trainer's). The timed window is optimizer and schedule
  creation plus the steps; the data are torch tensors made before timing.

Cases: ``cifar10``: NB201 C=16, N=5 on 32x32 CIFAR-10 (``cifar10_small.npz``); ``digits``:
NB201 C=8, N=1 on scikit-learn's 8x8 digits, the candidates of the main job
(``nasforge search``).

Before the timed rounds each way makes a short untimed warm-up fit of ``--warmup`` steps.
The timed runs are interleaved (trainer, trainer without channels_last, plain, trainer,
...) for ``--rounds`` rounds, each from the same fresh copy of the initial weights, and the
median images per second of each way is reported with the median of the per-round ratios
to the plain loop (adjacent runs see similar machine load, so the paired ratio is the robust
number on a busy machine).

Part 2 (accuracy). A small network (C=8, N=1, the NB201 optimum cell, row 6111) is trained
on the whole training split of each task (``--acc-epochs`` on CIFAR-10's 9,000 images,
``--digits-acc-epochs`` on digits' 1,004) by the Trainer and by the plain loop (same initial
weights, same shuffles), and the final validation accuracy of each is printed, with the
largest difference between their per-step training losses (not 0: channels_last and the
fused SGD kernel round differently). A second Trainer fit with another seed (other initial
weights and shuffles) shows the size of seed noise.

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

from nasforge.data.loaders import DATA_ENV, load_digits_task, load_npz_task
from nasforge.data.task import DataError, Task
from nasforge.space import NB201Space
from nasforge.training import EpochMetrics, TrainConfig, Trainer, TrainerHooks

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "cifar10_small.npz"
CASES = ("cifar10", "digits")

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


@dataclass(frozen=True)
class Case:
    """One network size on one task, timed over `steps` optimizer steps per run."""

    name: str
    task: Task
    channels: int
    cells_per_stage: int
    steps: int

    @property
    def description(self) -> str:
        height = self.task.input_shape[-1]
        return (
            f"NB201 C={self.channels}, N={self.cells_per_stage} on {height}x{height} "
            f"{self.name}, {self.steps} timed steps"
        )


# -- the ways of training -----------------------------------------------------------------
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
    """A plain eager loop with the Trainer's hyperparameters and PyTorch's defaults
    (contiguous tensors, default SGD); (seconds, per-step losses if kept).

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
    for _ in range(config.epochs):
        for batch in torch.split(torch.randperm(len(y), generator=generator), config.batch_size):
            loss = F.cross_entropy(model(x[batch]), y[batch])
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
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in zip(torch.split(x, batch), torch.split(y, batch), strict=True):
            correct += int((model(xb).argmax(1) == yb).sum())
    model.train()
    return correct / len(y)


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
WAYS = ("trainer", "trainer, channels_last off", "plain")


@dataclass(frozen=True)
class Throughput:
    case: str
    label: str
    params: int
    rates: dict[str, list[float]]  # way -> images per second, one per round

    def median(self, way: str) -> float:
        return statistics.median(self.rates[way])

    def paired_ratio(self, way: str) -> float:
        """Median over rounds of `way`/plain within a round (robust to load changes)."""
        pairs = zip(self.rates[way], self.rates["plain"], strict=True)
        return statistics.median(t / p for t, p in pairs)


def median_random_cell(space: NB201Space) -> str:
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(RANDOM_CANDIDATES)]
    ranked = sorted(cells, key=lambda a: (count_params(space.build(a)), space.format(a)))
    return space.format(ranked[len(ranked) // 2])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def measure(
    case: Case, label: str, cell: str, args: argparse.Namespace, config: TrainConfig
) -> Throughput:
    task = case.task
    space = NB201Space(channels=case.channels, cells_per_stage=case.cells_per_stage)
    torch.manual_seed(args.seed)
    initial = space.build(space.parse(cell), input_shape=task.input_shape, num_classes=10)
    timed = subset(task, args.batch_size * case.steps, args.batch_size)
    warm = subset(task, args.batch_size * args.warmup, args.batch_size)
    x, y, _, _ = tensors(timed)
    xw, yw, _, _ = tensors(warm)
    contiguous = replace(config, channels_last=False)
    trainer_fit(copy.deepcopy(initial), warm, config)
    trainer_fit(copy.deepcopy(initial), warm, contiguous)
    plain_fit(copy.deepcopy(initial), xw, yw, config)
    images = args.batch_size * case.steps
    rates: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        seconds, _, _ = trainer_fit(copy.deepcopy(initial), timed, config)
        rates["trainer"].append(images / seconds)
        seconds, _, _ = trainer_fit(copy.deepcopy(initial), timed, contiguous)
        rates["trainer, channels_last off"].append(images / seconds)
        seconds, _ = plain_fit(copy.deepcopy(initial), x, y, config)
        rates["plain"].append(images / seconds)
    result = Throughput(case.name, label, count_params(initial), rates)
    print(
        f"  {case.name} {label}: "
        + ", ".join(f"{way} {fmt_rates(rates[way])}" for way in WAYS)
        + f" img/s; paired ratio {result.paired_ratio('trainer'):.3f}",
        file=sys.stderr,
    )
    return result


def fmt_rates(rates: Sequence[float]) -> str:
    return "/".join(f"{r:.0f}" for r in rates)


# -- part 2: accuracy ---------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyResult:
    case: str
    epochs: int
    train_images: int
    valid_images: int
    trainer: float
    plain: float
    trainer_other_seed: float
    max_loss_diff: float
    steps: int


def accuracy_check(
    case: str, task: Task, epochs: int, args: argparse.Namespace, config: TrainConfig
) -> AccuracyResult:
    space = NB201Space(channels=args.acc_channels, cells_per_stage=args.acc_cells)
    arch = space.parse(OPTIMUM)
    cfg = replace(config, epochs=epochs)
    torch.manual_seed(args.seed)
    initial = space.build(arch, input_shape=task.input_shape, num_classes=10)
    x, y, xv, yv = tensors(task)
    t_seconds, t_acc, t_losses = trainer_fit(copy.deepcopy(initial), task, cfg, keep_losses=True)
    print(f"  {case} trainer: valid acc {t_acc:.4f} ({t_seconds:.0f} s)", file=sys.stderr)
    plain_model = copy.deepcopy(initial)
    p_seconds, p_losses = plain_fit(plain_model, x, y, cfg, keep_losses=True)
    p_acc = accuracy(plain_model, xv, yv)
    print(f"  {case} plain: valid acc {p_acc:.4f} ({p_seconds:.0f} s)", file=sys.stderr)
    torch.manual_seed(args.seed + 1)
    other = space.build(arch, input_shape=task.input_shape, num_classes=10)
    _, o_acc, _ = trainer_fit(other, task, replace(cfg, seed=cfg.seed + 1))
    print(f"  {case} trainer, seed {cfg.seed + 1}: valid acc {o_acc:.4f}", file=sys.stderr)
    diff = max(abs(a - b) for a, b in zip(t_losses, p_losses, strict=True))
    return AccuracyResult(case, epochs, len(y), len(yv), t_acc, p_acc, o_acc, diff, len(t_losses))


# -- report -------------------------------------------------------------------------------
def report(
    argv: Sequence[str],
    args: argparse.Namespace,
    config: TrainConfig,
    cases: Sequence[Case],
    rows: Sequence[Throughput],
    cells: dict[str, str],
    checks: Sequence[AccuracyResult],
) -> str:
    command = shlex.join(["python", "benchmarks/train_throughput.py", *argv])
    lines = [
        f"Command: `{command}`",
        "",
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs. Settings of all ways: batch {config.batch_size}, "
        f"{config.threads} threads, flush denormals on, SGD Nesterov momentum 0.9, "
        f"lr {config.lr}, weight decay {config.weight_decay}, per-step cosine to 0, "
        f"grad-norm clip {config.grad_clip}, no augmentation. Trainer: its defaults "
        "(channels_last for images, fused SGD); plain: PyTorch's defaults.",
        "",
        "Cases: " + "; ".join(c.description for c in cases) + f" ({args.batch_size} images "
        f"each) per run after a {args.warmup}-step warm-up, the three ways interleaved for "
        f"{args.rounds} rounds; median img/s (all rounds in brackets). Paired ratio: median "
        "over rounds of the way's img/s over the plain loop's within a round.",
        "",
        "| case | cell | params | trainer img/s | trainer, channels_last off img/s "
        "| plain img/s | trainer/plain (paired) | channels_last off/plain (paired) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case} | {row.label} | {row.params:,} | "
            + " | ".join(f"{row.median(way):.0f} ({fmt_rates(row.rates[way])})" for way in WAYS)
            + f" | {row.paired_ratio('trainer'):.3f} "
            f"| {row.paired_ratio('trainer, channels_last off'):.3f} |"
        )
    lines.append("")
    lines.append("Cells:")
    lines.extend(f"- {label}: `{cell}`" for label, cell in cells.items())
    for acc in checks:
        lines += [
            "",
            f"Accuracy on {acc.case}: NB201 C={args.acc_channels}, N={args.acc_cells}, "
            f"optimum cell (row 6111), {acc.epochs} epochs on {acc.train_images:,} training "
            f"images ({acc.steps} steps), same initial weights and shuffles; validation "
            f"accuracy on {acc.valid_images:,} held-out images: trainer {acc.trainer:.4f}, "
            f"plain {acc.plain:.4f}, trainer with seed {config.seed + 1} (noise reference) "
            f"{acc.trainer_other_seed:.4f}. Largest difference between the two ways' "
            f"per-step training losses: {acc.max_loss_diff:.3g}.",
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
    parser.add_argument(
        "--cases", nargs="+", choices=CASES, default=list(CASES), help="cases to time (both)"
    )
    parser.add_argument("--steps", type=int, default=8, help="timed steps per cifar10 run (8)")
    parser.add_argument(
        "--digits-steps", type=int, default=15, help="timed steps per digits run (15)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up steps (2)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--acc-epochs", type=int, default=4, help="cifar10 epochs (0 skips its accuracy part)"
    )
    parser.add_argument(
        "--digits-acc-epochs", type=int, default=10, help="digits epochs (0 skips its part)"
    )
    parser.add_argument("--acc-channels", type=int, default=8)
    parser.add_argument("--acc-cells", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    names = ("steps", "digits_steps", "warmup", "rounds", "batch_size", "threads")
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.data = args.data or default_data()
    if "cifar10" in args.cases and not args.data.is_file():
        parser.error(
            f"data file not found: {args.data} (pass --data or set ${DATA_ENV}; see "
            "../shared/data/README.md for cifar10_small.npz, or use --cases digits)"
        )
    return args


def load_cases(args: argparse.Namespace) -> list[Case]:
    """The cases asked for; raises DataError if a task lacks the images the timing needs."""
    cases = []
    if "cifar10" in args.cases:
        task = load_npz_task("cifar10", args.data, seed=args.seed)
        if task.input_shape != (3, 32, 32):
            raise DataError(f"expected 3x32x32 images, {args.data} has {task.input_shape}")
        cases.append(Case("cifar10", task, 16, 5, args.steps))
    if "digits" in args.cases:
        cases.append(Case("digits", load_digits_task(args.seed), 8, 1, args.digits_steps))
    for case in cases:
        needed = args.batch_size * case.steps
        if len(case.task.y_train) < needed:
            raise DataError(
                f"{case.name}: {needed} training images needed, {len(case.task.y_train)} found"
            )
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        cases = load_cases(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = TrainConfig(epochs=1, batch_size=args.batch_size, threads=args.threads, seed=args.seed)
    torch.set_num_threads(args.threads)  # the plain loop's threads (the Trainer sets its own)
    torch.set_flush_denormal(True)  # the Trainer turns it on too (process-wide)
    cells = dict(ARCHS)
    cells["median random cell"] = median_random_cell(NB201Space(channels=16, cells_per_stage=5))
    started = time.perf_counter()
    rows = []
    for case in cases:
        print(f"throughput ({case.task.summary()}):", file=sys.stderr)
        rows += [measure(case, label, cell, args, config) for label, cell in cells.items()]
    checks = []
    epochs = {"cifar10": args.acc_epochs, "digits": args.digits_acc_epochs}
    for case in cases:
        if epochs[case.name] > 0:
            print(f"accuracy ({case.name}):", file=sys.stderr)
            checks.append(accuracy_check(case.name, case.task, epochs[case.name], args, config))
    print(f"total wall time: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    text = report(argv, args, config, cases, rows, cells, checks)
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
