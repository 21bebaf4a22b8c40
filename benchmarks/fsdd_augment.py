"""FSDD with one speaker held out: one fixed architecture retrained with and without the
training options meant to carry to a new voice, to measure them apart from the noise of a
search (issue 33).

Each ``--variants`` entry is ``none``, ``augment`` (``TrainConfig.augment``: SpecAugment),
``speaker`` (``augment`` and ``speaker_augment``: VTLP and speed warps, then SpecAugment),
``norm`` (the task loaded with ``utterance_norm``), or ``augment+norm``, ``speaker+norm``; the
augmentation is recorded by name (`nasforge.training.augment.audio_augmentation`). For each
variant, seed and ``--epochs`` value the arch is trained from scratch as a search's winner is
retrained with ``--group-pattern`` (`nasforge.evaluate.training.retrain`: on all 5 other
speakers) and tested on the held-out speaker. One JSON line per run is appended to
``--results``; a rerun skips what is there.

    PYTHONPATH=src python benchmarks/fsdd_augment.py --speaker theo --epochs 10 30 \\
        --variants none augment speaker norm --threads 1 --results fsdd_augment.jsonl
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts

from fsdd_held_out import DEFAULT_RECORDINGS, SPEAKERS, write_manifest
from generalize import GROUP_PATTERN, append_result, read_results

ARCH = (
    "depth=4,channels_0=32,kernel_0=5,channels_1=16,kernel_1=3,channels_2=16,kernel_2=3,"
    "channels_3=16,kernel_3=3,pool=avg,skip=true"
)
"""A `conv1d` arch that small FSDD searches pick (theo held out, 4 x 5, seed 0)."""
VARIANTS = ("none", "augment", "speaker", "norm", "augment+norm", "speaker+norm")


def augmentation(variant: str) -> str:
    """The name of what ``variant`` does to the training batches."""
    from nasforge.training.augment import audio_augmentation

    if "augment" in variant or "speaker" in variant:
        return audio_augmentation("speaker" in variant)
    return "none"


def run(args: argparse.Namespace, variant: str, seed: int, epochs: int) -> dict[str, Any]:
    from nasforge.evaluate.training import TrainingEvaluator, retrain
    from nasforge.run.setup import training_evaluator

    began = time.perf_counter()
    augment, norm = augmentation(variant) != "none", "norm" in variant
    manifest = args.results.resolve().parent / f"fsdd_{args.speaker}_out.csv"
    write_manifest(args.data, args.speaker, manifest)
    space, evaluator = training_evaluator(
        "audio",
        manifest,
        "conv1d",
        {},
        {},
        task_options={"group_pattern": GROUP_PATTERN, **({"utterance_norm": True} if norm else {})},
        epochs=epochs,
        augment=augment,
        threads=args.threads,
        seed=seed,
    )
    assert isinstance(evaluator, TrainingEvaluator)
    if "speaker" in variant:
        evaluator.train_config = replace(evaluator.train_config, speaker_augment=True)
    with_groups = bool(evaluator.task.valid_groups)  # as it was measured: groups retrain on all
    retrained = retrain(evaluator, space.parse(args.arch), epochs, with_validation=with_groups)
    return {
        "speaker": args.speaker,
        "arch": args.arch,
        "augment": augmentation(variant),
        "utterance_norm": norm,
        "seed": seed,
        "epochs": epochs,
        "test": round(retrained.test_accuracy, 2),
        "train": round(100.0 * retrained.report.curve[-1].train_accuracy, 2),
        "seconds": round(time.perf_counter() - began, 1),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def key(result: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(result[k] for k in ("speaker", "arch", "augment", "utterance_norm", "seed"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--speaker", choices=SPEAKERS, default="theo")
    parser.add_argument("--arch", default=ARCH)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, nargs="+", default=[10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_RECORDINGS)
    parser.add_argument("--results", type=Path, default=Path("fsdd_augment.jsonl"))
    args = parser.parse_args()
    for variant in args.variants:
        for seed in args.seeds:
            for epochs in args.epochs:
                probe = {
                    "speaker": args.speaker,
                    "arch": args.arch,
                    "augment": augmentation(variant),
                    "utterance_norm": "norm" in variant,
                    "seed": seed,
                }
                done = read_results(args.results)
                if any(key(r) == key(probe) and r["epochs"] == epochs for r in done):
                    continue
                result = run(args, variant, seed, epochs)
                append_result(args.results, result)
                print(
                    f"{variant} ({result['augment']}) seed {seed} {epochs} epochs: "
                    f"test {result['test']:.1f}, train {result['train']:.1f} "
                    f"({result['seconds']:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    print("| augment | utterance_norm | seed | epochs | train | test on the held-out speaker |")
    print("|---|---|---|---|---|---|")
    for r in read_results(args.results):
        if r["speaker"] == args.speaker and r["arch"] == args.arch:
            print(
                f"| {r['augment']} | {r['utterance_norm']} | {r['seed']} | {r['epochs']} "
                f"| {r['train']:.1f} | {r['test']:.1f} |"
            )
    print("\nCommand: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`")


if __name__ == "__main__":
    main()
