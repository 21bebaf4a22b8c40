"""Generalization benchmarks (issue 33 item 6): FSDD on unseen speakers, TREC ensembles,
the Transformer supernet's ranking.

Parts (``--part``):

- ``fsdd``: for each speaker of ``--speakers`` (all 6 by default), the manifest that holds
  that speaker out (`fsdd_held_out.write_manifest`), then one search with
  ``--group-pattern '^\\d_([a-z]+)_'`` (validation on an unseen speaker) and one without
  (validation on 10% of the others' recordings), as ``nasforge search --task audio`` runs
  them (evolution, ``--budget`` candidates x ``--epochs``, the winner retrained
  ``--final-epochs`` and tested on the held-out speaker), with the baseline each search
  reports. ``--augment`` trains candidates and the winner as ``nasforge search --augment`` does
  (SpecAugment), ``--speaker-augment`` with ``TrainConfig.speaker_augment`` too (VTLP and speed
  warps first), recorded as the run's ``augment``
  (`nasforge.training.augment.audio_augmentation`; ``none`` without them). One line of JSON per
  search is appended to ``--results``; a rerun skips the searches already there (same speaker,
  groups, size, augmentation, features and seed), so a stopped run resumes. ``--utterance-norm``
  loads the task with ``utterance_norm`` (`nasforge.data.audio`: each recording's log-mels
  normalized over its own frames). ``--groups with|without`` runs only the searches with
  (or without) groups. ``--augment`` is what ``nasforge search`` does by default on audio
  since SpecAugment became the audio default; without it the runs are unaugmented
  (``augment: none``), as the results before that change were.
  Prints a table per speaker, the mean and the worst, beside the issue's
  logistic-regression figures.
- ``trec``: `ensemble_trec.one_seed` for each of ``--seeds`` (K = 1, 3, 5, top-K and forward
  selection); each seed's result is appended to ``--results`` too and skipped on a rerun.
- ``transformer``: ``language_speech.py --part transformer`` with ``--subnets`` (20) random
  sub-networks (``--sampling``, ``--distill``, ``--retrain-seeds`` and ``--cache``, a file
  of retrainings that several runs share, passed on).

Usage::

    PYTHONPATH=src python benchmarks/generalize.py --part fsdd --budget 4 --epochs 5 \\
        --final-epochs 10 --threads 1 --results fsdd.jsonl [--augment] [--speaker-augment] \\
        [--utterance-norm]
    PYTHONPATH=src python benchmarks/generalize.py --part trec --seeds 0 1 2 --threads 1 \\
        --results trec.jsonl
    PYTHONPATH=src python benchmarks/generalize.py --part transformer --subnets 20
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts

from fsdd_held_out import DEFAULT_RECORDINGS, SPEAKERS, write_manifest

GROUP_PATTERN = r"^\d_([a-z]+)_"
ISSUE_BASELINE = {
    "george": 55.8,
    "jackson": 62.6,
    "lucas": 41.6,
    "nicolas": 50.8,
    "theo": 81.4,
    "yweweler": 74.6,
}
"""Logistic regression (C=0.1) on standardized log-mels, per held-out speaker (issue 33)."""
SIZE_KEYS = ("budget", "epochs", "final_epochs", "seed", "augment", "utterance_norm")
"""What makes two FSDD searches of one speaker the same run (with ``groups``); a result
written before ``augment`` and ``utterance_norm`` were recorded had neither."""
NO_AUGMENT = "none"
DEFAULTS = {"augment": NO_AUGMENT, "utterance_norm": False}
"""The values of the keys that older results do not hold."""


def read_results(path: Path) -> list[dict[str, Any]]:
    """The results appended to ``path`` so far (none when it does not exist); a line cut
    short by a killed run is ignored."""
    if not path.exists():
        return []
    results = []
    for line in path.read_text().splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return results


def append_result(path: Path, result: dict[str, Any]) -> None:
    """Append ``result`` as one line (on a line of its own after a line cut short)."""
    text = path.read_text() if path.exists() else ""
    cut = bool(text) and not text.endswith("\n")
    with path.open("a") as out:
        out.write(("\n" if cut else "") + json.dumps(result) + "\n")


def size_of(result: dict[str, Any]) -> dict[str, Any]:
    """The values of `SIZE_KEYS` of ``result`` (`DEFAULTS` where absent)."""
    return {k: result[k] if k in result else DEFAULTS[k] for k in SIZE_KEYS}


def fsdd_key(result: dict[str, Any]) -> tuple[Any, ...]:
    return (result["speaker"], result["groups"], *size_of(result).values())


def fsdd_pending(
    speakers: Sequence[str],
    size: dict[str, Any],
    done: Iterable[dict[str, Any]],
    kinds: Sequence[bool] = (True, False),
) -> list[tuple[str, bool]]:
    """The (speaker, groups) searches of ``size`` not yet in ``done``, grouped first;
    ``kinds``: with groups (True), without (False) or both."""
    finished = {fsdd_key(r) for r in done}
    return [
        (speaker, groups)
        for speaker in speakers
        for groups in kinds
        if fsdd_key({"speaker": speaker, "groups": groups, **size}) not in finished
    ]


def fsdd_search(
    recordings: Path, speaker: str, groups: bool, size: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """One search with ``speaker`` held out, its winner retrained and tested on them."""
    from ensemble_trec import search
    from nasforge.evaluate.baselines import search_baseline
    from nasforge.evaluate.training import TrainingEvaluator, retrain
    from nasforge.run.setup import training_evaluator

    began = time.perf_counter()
    manifest = args.results.resolve().parent / f"fsdd_{speaker}_out.csv"
    write_manifest(recordings, speaker, manifest)  # kept: worker processes may read it
    space, evaluator = training_evaluator(
        "audio",
        manifest,
        None,
        {},
        {},
        task_options={
            "utterance_norm": size["utterance_norm"],
            **({"group_pattern": GROUP_PATTERN} if groups else {}),
        },
        epochs=size["epochs"],
        augment=size["augment"] != NO_AUGMENT,
        threads=args.threads,
        time_limit=120.0,
        seed=size["seed"],
    )
    assert isinstance(evaluator, TrainingEvaluator)
    if size["augment"] == audio_augmentation(True, True):
        evaluator.train_config = replace(evaluator.train_config, speaker_augment=True)
    result = search(space, evaluator, size["budget"], size["seed"], args.workers)
    search_seconds = time.perf_counter() - began
    assert result.best is not None
    arch = space.parse(result.best.arch)
    # as the results in docs/benchmarks.md were measured (before --final-data all became the
    # default): on every training speaker with groups, on the training split without
    with_groups = bool(evaluator.task.valid_groups)
    retrained = retrain(evaluator, arch, size["final_epochs"], with_validation=with_groups)
    baseline = search_baseline(evaluator, with_validation=False)
    assert baseline is not None
    return {
        "speaker": speaker,
        "groups": groups,
        **size,
        "valid_groups": list(evaluator.task.valid_groups),
        "winner": space.format(arch),
        "winner_valid": result.best.score,
        "test": retrained.test_accuracy,
        "baseline_valid": baseline["valid_accuracy"],
        "baseline_test": baseline["test_accuracy"],
        "search_seconds": round(search_seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def summary(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the worst (lowest) of ``values``."""
    return sum(values) / len(values), min(values)


def fsdd_table(results: Sequence[dict[str, Any]], size: dict[str, Any]) -> list[str]:
    """Per held-out speaker: the issue's baseline, then with and without groups the
    retrained winner and the search's own baseline on that speaker; then mean and worst over
    the speakers that have both searches of ``size``."""
    runs = {(r["speaker"], r["groups"]): r for r in results if size_of(r) == size}
    speakers = [s for s in SPEAKERS if (s, True) in runs and (s, False) in runs]
    lines = [
        "| held out | issue's baseline | groups: winner | groups: baseline (valid on) "
        "| no groups: winner | no groups: baseline | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in speakers:
        grouped, plain = runs[(s, True)], runs[(s, False)]
        minutes = (grouped["seconds"] + plain["seconds"]) / 60.0
        lines.append(
            f"| {s} | {ISSUE_BASELINE[s]:.1f} | {grouped['test']:.1f} "
            f"| {grouped['baseline_test']:.1f} ({', '.join(grouped['valid_groups'])}) "
            f"| {plain['test']:.1f} | {plain['baseline_test']:.1f} | {minutes:.1f} |"
        )
    if not speakers:
        return lines
    columns = [
        [ISSUE_BASELINE[s] for s in speakers],
        [runs[(s, True)]["test"] for s in speakers],
        [runs[(s, True)]["baseline_test"] for s in speakers],
        [runs[(s, False)]["test"] for s in speakers],
        [runs[(s, False)]["baseline_test"] for s in speakers],
    ]
    for name, pick in (("mean", 0), ("worst", 1)):
        cells = " | ".join(f"{summary(c)[pick]:.1f}" for c in columns)
        lines.append(f"| **{name}** ({len(speakers)}) | {cells} | |")
    return lines


def audio_augmentation(augment: bool, speaker: bool = False) -> str:
    """What ``--augment`` (and ``--speaker-augment``) do to an audio task's batches in the
    library run (``none`` without augmentation)."""
    if not augment and not speaker:
        return NO_AUGMENT
    from nasforge.training.augment import audio_augmentation as name

    return name(speaker)


def fsdd_part(args: argparse.Namespace) -> list[str]:
    size = {
        "budget": args.budget,
        "epochs": args.epochs,
        "final_epochs": args.final_epochs,
        "seed": args.seed,
        "augment": audio_augmentation(args.augment, args.speaker_augment),
        "utterance_norm": args.utterance_norm,
    }
    kinds = {"both": (True, False), "with": (True,), "without": (False,)}[args.groups]
    pending = fsdd_pending(args.speakers, size, read_results(args.results), kinds)
    for speaker, groups in pending:
        result = fsdd_search(args.data, speaker, groups, size, args)
        append_result(args.results, result)
        log(
            f"{speaker} {'groups' if groups else 'no groups'}: winner {result['test']:.1f}, "
            f"baseline {result['baseline_test']:.1f} ({result['seconds']:.0f} s)"
        )
    return fsdd_table(read_results(args.results), size)


def trec_part(args: argparse.Namespace) -> list[str]:
    from ensemble_trec import one_seed, table

    def same(run: dict[str, Any]) -> bool:
        return all(run.get(k) == v for k, v in trec_size(args).items())

    done = {r["seed"] for r in read_results(args.results) if same(r)}
    for seed in args.seeds:
        if seed not in done:
            append_result(args.results, {**one_seed(args, seed), **trec_size(args)})
    runs = [r for r in read_results(args.results) if same(r) and r["seed"] in args.seeds]
    return table(runs)


def trec_size(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "space": args.space,
        "budget": args.budget,
        "epochs": args.epochs,
        "final_epochs": args.final_epochs,
        "pool": args.pool,
        "final_data": args.final_data,
    }


def transformer_part(args: argparse.Namespace) -> list[str]:
    from language_speech import main as language_speech

    language_speech(
        [
            "--part", "transformer",
            "--subnets", str(args.subnets),
            "--supernet-epochs", str(args.supernet_epochs),
            "--final-epochs", str(args.final_epochs),
            "--max-params", str(args.max_params),
            "--sampling", args.sampling,
            "--seed", str(args.seed),
            "--retrain-seeds", str(args.retrain_seeds),
            *(["--distill"] if args.distill else []),
            *(["--cache", str(args.cache)] if args.cache else []),
        ]
    )  # fmt: skip
    return []


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--part", choices=("fsdd", "trec", "transformer"), required=True)
    parser.add_argument("--data", type=Path, default=None, help="FSDD recordings / TREC folder")
    parser.add_argument("--speakers", nargs="+", choices=SPEAKERS, default=list(SPEAKERS))
    parser.add_argument(
        "--groups", choices=("both", "with", "without"), default="both", help="fsdd searches"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="trec")
    parser.add_argument("--seed", type=int, default=0, help="fsdd, transformer")
    parser.add_argument("--budget", type=int, default=None, help="fsdd 100, trec 12")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--final-epochs", type=int, default=None, help="fsdd, trec 30; tr. 10")
    parser.add_argument("--augment", action="store_true", help="fsdd: as search --augment")
    parser.add_argument("--speaker-augment", action="store_true", help="fsdd: VTLP, speed too")
    parser.add_argument(
        "--utterance-norm", action="store_true", help="fsdd: each recording's log-mels normalized"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--results", type=Path, default=None, help="JSON lines, appended to")
    parser.add_argument("--space", default=None, help="trec: default the CLI's (textconv)")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--pool", type=int, default=10, help="trec: archs retrained")
    parser.add_argument(
        "--final-data", choices=("all", "train"), default="all", help="trec: as search's"
    )
    parser.add_argument("--minutes", type=float, default=25.0, help="trec: retraining per seed")
    parser.add_argument("--subnets", type=int, default=20)
    parser.add_argument("--supernet-epochs", type=int, default=10)
    parser.add_argument("--max-params", type=int, default=1_000_000)
    parser.add_argument("--sampling", choices=("uniform", "sandwich"), default="uniform")
    parser.add_argument("--distill", action="store_true", help="transformer: with sandwich")
    parser.add_argument("--retrain-seeds", type=int, default=1, help="transformer")
    parser.add_argument("--cache", type=Path, default=None, help="transformer: retrainings")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 100 if args.part == "fsdd" else 12
    if args.final_epochs is None:
        args.final_epochs = 10 if args.part == "transformer" else 30
    if args.results is None:
        args.results = Path(f"generalize_{args.part}.jsonl")
    if args.data is None:
        trec = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trec"
        args.data = DEFAULT_RECORDINGS if args.part == "fsdd" else trec
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    parts = {"fsdd": fsdd_part, "trec": trec_part, "transformer": transformer_part}
    lines = parts[args.part](args)
    command = "Command: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`"
    print("\n".join([*lines, "", command]))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
