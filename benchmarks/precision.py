"""bf16 against fp32 on the CPU: step time and accuracy of the main job's candidates.

The main job is ``nasforge search`` with no options: NB201 cells (C=8, N=1) on scikit-learn's
digits, each candidate trained 10 epochs (batch 64, lr 0.05, SGD, cosine), the winner retrained
30 epochs and tested. This script trains, side by side in fp32 and in bf16 (autocast on the
CPU, ``--precision bf16``), with the main job's settings and one torch thread (as each of
its two worker processes):

- ``--candidates`` cells for the main job's 10 epochs: the winner of the main job on seed 0
  (README, "The main job") and the next cells of its leaderboard, then random cells;
  validation accuracy and milliseconds per training step of each;
- the winner, retrained from scratch for 30 epochs: test accuracy in each precision.

The same seed gives the same initial weights and batches in both precisions, so the
differences come from the arithmetic alone. Prints a table (and ``--json`` for machines).

Usage::

    python benchmarks/precision.py [--candidates 4] [--threads 1]

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

import numpy as np
import torch

from nasforge.evaluate.training import TrainingEvaluator, retrain
from nasforge.run.setup import training_evaluator
from nasforge.space.base import SearchSpace

WINNER = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|"
    "+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_3x3~2|"
)
LEADERBOARD = (
    WINNER,
    "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|",
    "|nor_conv_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
)
PRECISIONS = ("fp32", "bf16")


def evaluators(threads: int) -> tuple[SearchSpace, dict[str, TrainingEvaluator]]:
    """The main job's space and training evaluator, once per precision."""
    made: dict[str, TrainingEvaluator] = {}
    space: SearchSpace | None = None
    for precision in PRECISIONS:
        space, evaluator = training_evaluator(
            "digits", None, None, {}, {}, threads=threads, device="cpu", precision=precision,
            epochs=10,
        )  # fmt: skip
        assert isinstance(evaluator, TrainingEvaluator)
        made[precision] = evaluator
    assert space is not None
    return space, made


def candidates(space: SearchSpace, count: int) -> list[str]:
    texts = list(LEADERBOARD[:count])
    rng = np.random.default_rng(0)
    while len(texts) < count:
        text = space.format(space.sample(rng))
        if text not in texts:
            texts.append(text)
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--final-epochs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    space, made = evaluators(args.threads)
    rows: list[dict[str, Any]] = []
    for text in candidates(space, args.candidates):
        arch = space.parse(text)
        row: dict[str, Any] = {"arch": text}
        for precision, evaluator in made.items():
            result = evaluator.evaluate(arch, 10)
            metrics = result.metrics
            steps = 10 * evaluator._steps_per_epoch(evaluator.train_config)
            row[precision] = {
                "valid_accuracy": metrics["accuracy"],
                "ms_per_step": 1000.0 * metrics["train_seconds"] / steps,
            }
        rows.append(row)
        if not args.json:
            print(_row_line(row), flush=True)
    final: dict[str, Any] = {}
    if args.final_epochs > 0:
        for precision, evaluator in made.items():
            retrained = retrain(
                evaluator, space.parse(WINNER), args.final_epochs, with_validation=False
            )
            final[precision] = {
                "test_accuracy": retrained.test_accuracy,
                "seconds": retrained.report.seconds,
            }
    ratios = [row["bf16"]["ms_per_step"] / row["fp32"]["ms_per_step"] for row in rows]
    gaps = [row["bf16"]["valid_accuracy"] - row["fp32"]["valid_accuracy"] for row in rows]
    summary = {
        "cpu": _cpu(),
        "threads": args.threads,
        "candidates": rows,
        "median_bf16_step_time_ratio": statistics.median(ratios),
        "mean_valid_accuracy_gap": float(np.mean(gaps)),
        "winner_retrained": final,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(
        f"bf16 step time / fp32: median {summary['median_bf16_step_time_ratio']:.2f}x; "
        f"valid accuracy bf16 - fp32: mean {summary['mean_valid_accuracy_gap']:+.2f} points"
    )
    for precision, values in final.items():
        print(
            f"winner retrained {args.final_epochs} epochs in {precision}: test accuracy "
            f"{values['test_accuracy']:.2f}% ({values['seconds']:.1f} s)"
        )
    print(f"({summary['cpu']}, {args.threads} thread(s))")


def _row_line(row: dict[str, Any]) -> str:
    fp32, bf16 = row["fp32"], row["bf16"]
    return (
        f"{row['arch']}  fp32 {fp32['valid_accuracy']:6.2f}% {fp32['ms_per_step']:6.1f} ms/step"
        f"  bf16 {bf16['valid_accuracy']:6.2f}% {bf16['ms_per_step']:6.1f} ms/step"
    )


def _cpu() -> str:
    from nasforge.measure.latency_table import machine_fingerprint

    return str(machine_fingerprint(1)["cpu"])


if __name__ == "__main__":
    main()
