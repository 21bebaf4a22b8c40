"""Language and speech (issue 19): TREC question classification and FSDD spoken digits.

Parts (``--part``), each printing a markdown table:

- ``linear``: the linear baselines: tf-idf word 1-2-grams with a linear SVM on TREC;
  log-mel spectrograms (flattened, standardized) with logistic regression on FSDD's usual
  split and with one speaker (theo) held out of training.
- ``search --dataset trec|fsdd``: evolution with the training evaluator (``--candidates``
  candidates of ``--epochs`` epochs, or ``--minutes``), its winner retrained
  ``--final-epochs``, against the hand-designed baseline trained the same way (Kim's
  CNN-rand, ``kim2014`` of ``textconv``, for TREC; a small 2-D CNN on the log-mels for
  FSDD); test accuracy and parameters of each, and the search time. On FSDD also the
  winner and the baseline retrained with theo held out.
- ``transformer``: the weight-sharing Transformer search on TREC (``spos`` on the
  ``transformer`` supernet, ``--supernet-epochs`` with AdamW, ``--sampling`` uniform or
  sandwich), and ``--subnets`` (10) random sub-networks: Spearman
  between their inherited-weight validation accuracy and their accuracy retrained from
  scratch, and the found sub-network retrained the same way against the best of them.

Every training here uses one thread and AdamW (``--lr``), batch 50. The final networks
(winners, baselines, sub-networks) train ``--retrain-seeds`` times (mean ± sd reported),
on the training split or, with ``--full-train``, on the training and validation examples
together (as the linear baselines train). Data: ``--data`` (the
folder holding ``trec/`` and ``fsdd/``; default ``../shared/data``). Not part of the
package.

Usage::

    python benchmarks/language_speech.py --part linear
    python benchmarks/language_speech.py --part search --dataset trec --candidates 40 --minutes 10 \
        --final-epochs 20 --retrain-seeds 5 --full-train
    python benchmarks/language_speech.py --part search --dataset fsdd --candidates 40 --minutes 10
    python benchmarks/language_speech.py --part transformer --supernet-epochs 10
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from nasforge.arch import Arch
from nasforge.data.audio import find_recordings, load_audio_task
from nasforge.data.task import Task
from nasforge.data.text import PAD, UNKNOWN, Tokenizer, load_text_task, read_text_file
from nasforge.evaluate.training import TrainingEvaluator
from nasforge.oneshot import make_method
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.space import make_space
from nasforge.space.base import SearchSpace
from nasforge.strategy import make_strategy
from nasforge.training import TrainConfig, Trainer

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FSDD_PATTERN, FSDD_TEST = r"^(\d)_", r"_[0-4]\.wav$"
HELD_OUT = "theo"
WORDS = Tokenizer((PAD, UNKNOWN))
"""Only for its `tokens` (lowercased words and punctuation)."""


def trec_task(data: Path) -> Task:
    return load_text_task(
        data / "trec" / "train_5500.label", test_path=data / "trec" / "TREC_10.label"
    )


def fsdd_task(data: Path, held_out: bool = False) -> Task:
    recordings = data / "fsdd" / "recordings"
    if not held_out:
        return load_audio_task(recordings, label_pattern=FSDD_PATTERN, test_pattern=FSDD_TEST)
    manifest = Path(tempfile.mkdtemp()) / "held_out.csv"
    rows = [
        f"{r.path},{r.label},{'test' if f'_{HELD_OUT}_' in r.path.name else 'train'}"
        for r in find_recordings(recordings, label_pattern=FSDD_PATTERN)
    ]
    manifest.write_text("path,label,split\n" + "\n".join(rows) + "\n")
    return load_audio_task(manifest, name="fsdd-held-out")


def config(args: argparse.Namespace, epochs: int, seed: int | None = None) -> TrainConfig:
    return TrainConfig(
        epochs=epochs, batch_size=50, optimizer="adamw", lr=args.lr, weight_decay=0.01,
        threads=1, seed=args.seed if seed is None else seed,
    )  # fmt: skip


def train_and_test(model: nn.Module, task: Task, cfg: TrainConfig) -> float:
    trainer = Trainer(cfg)
    trainer.fit(model, task)
    return 100.0 * trainer.evaluate(model, task.x_test, task.y_test)


def whole_training_split(task: Task) -> Task:
    """``task`` with its validation examples joined to the training ones."""
    return replace(
        task,
        x_train=np.concatenate([task.x_train, task.x_valid]),
        y_train=np.concatenate([task.y_train, task.y_valid]),
    )


def final_task(task: Task, args: argparse.Namespace) -> Task:
    """The task a final network trains on: with ``--full-train`` the whole training split
    (as the linear baselines train), else the task as searched."""
    return whole_training_split(task) if args.full_train else task


def retrained(
    build: Callable[[], nn.Module], task: Task, args: argparse.Namespace, key: str = ""
) -> list[float]:
    """Test accuracy of ``build()`` trained ``--final-epochs`` from scratch, once per seed of
    ``--retrain-seeds`` (seeds ``--retrain-seed``, ``--retrain-seed + 1``, ...; default
    from ``--seed``). With ``--cache`` and a ``key`` (an arch's text), a retraining already
    in the cache (same key, seed, epochs, lr and split) is read instead of run again, and a
    new one is appended to it."""
    first = args.seed if getattr(args, "retrain_seed", None) is None else args.retrain_seed
    cache_path: Path | None = getattr(args, "cache", None)
    cached = _read_cache(cache_path) if cache_path is not None and key else {}
    accuracies = []
    for seed in range(first, first + args.retrain_seeds):
        what = json.dumps([key, seed, args.final_epochs, args.lr, bool(args.full_train)])
        if what in cached:
            accuracies.append(cached[what])
            continue
        torch.manual_seed(seed)
        model = build()
        accuracies.append(train_and_test(model, task, config(args, args.final_epochs, seed)))
        if cache_path is not None and key:
            with cache_path.open("a") as out:
                out.write(json.dumps({"what": what, "accuracy": accuracies[-1]}) + "\n")
    return accuracies


def _read_cache(path: Path) -> dict[str, float]:
    """The retrainings in the cache file ``path`` (none if it does not exist)."""
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["what"]: float(row["accuracy"]) for row in rows}


def show(accuracies: Sequence[float]) -> str:
    """Mean, and ± the standard deviation over seeds when there are several."""
    mean = float(np.mean(accuracies))
    if len(accuracies) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {float(np.std(accuracies, ddof=1)):.1f}"


def params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class SmallCNN2d(nn.Module):
    """The FSDD baseline: three 3x3 convolutions on the (bands, frames) image, pooling."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in (16, 32, 64):
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x.unsqueeze(1)))
        return out


def linear_part(args: argparse.Namespace) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    test = read_text_file(args.data / "trec" / "TREC_10.label")
    truth = np.array(test.labels)
    rows = []
    # scikit-learn's own tokens drop one-character words and punctuation ("?", "'s");
    # nasforge's word tokenizer (the one every text network here reads) keeps them
    for tokens, vectorizer in (
        ("scikit-learn's tokens", TfidfVectorizer(ngram_range=(1, 2))),
        ("nasforge's word tokens", TfidfVectorizer(analyzer=_word_pairs)),
    ):
        trec = 100.0 * float(np.mean(_svm_labels(args.data, vectorizer) == truth))
        rows.append(f"| TREC | tf-idf word 1-2-grams ({tokens}), linear SVM | {trec:.1f} |")
    for held_out in (False, True):
        task = fsdd_task(args.data, held_out)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        x_train = np.concatenate([task.x_train, task.x_valid]).reshape(
            len(task.y_train) + len(task.y_valid), -1
        )
        model.fit(x_train, np.concatenate([task.y_train, task.y_valid]))
        accuracy = 100.0 * float(
            np.mean(model.predict(task.x_test.reshape(len(task.y_test), -1)) == task.y_test)
        )
        split = f"{HELD_OUT} held out" if held_out else "usual split"
        rows.append(f"| FSDD, {split} | log-mel, logistic regression | {accuracy:.1f} |")
    return ["| data | model | test accuracy |", "|---|---|---|", *rows]


def _svm_labels(data: Path, vectorizer: Any) -> np.ndarray:
    """The test labels a linear SVM on ``vectorizer``'s features of TREC's training
    questions gives."""
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    train = read_text_file(data / "trec" / "train_5500.label")
    test = read_text_file(data / "trec" / "TREC_10.label")
    svm = make_pipeline(vectorizer, LinearSVC())
    svm.fit(train.texts, train.labels)
    return np.asarray(svm.predict(test.texts))


def trec_svm(data: Path, class_names: Sequence[str]) -> np.ndarray:
    """The linear SVM's (tf-idf word 1-2-grams, nasforge's tokens) test predictions on
    TREC, as ids of `class_names` (the text task's)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    labels = _svm_labels(data, TfidfVectorizer(analyzer=_word_pairs))
    return np.array([list(class_names).index(str(label)) for label in labels])


def _word_pairs(text: str) -> list[str]:
    """nasforge's word tokens of ``text`` and their bigrams (a scikit-learn analyzer)."""
    words = WORDS.tokens(text)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def search_part(args: argparse.Namespace) -> list[str]:
    text = args.dataset == "trec"
    task = trec_task(args.data) if text else fsdd_task(args.data)
    space: SearchSpace = (
        make_space("textconv", vocab_size=task.vocabulary_size or 0)
        if text
        else make_space("conv1d")
    )
    evaluator = TrainingEvaluator(
        space, task, train_config=config(args, args.epochs), seed=args.seed
    )
    started = time.perf_counter()
    result = Experiment(
        space,
        make_strategy("evolution", space, seed=args.seed),
        evaluator,
        budget=Budget(queries=args.candidates, wall_seconds=60.0 * args.minutes),
    ).run()
    search_seconds = time.perf_counter() - started
    assert result.best is not None
    winner = space.parse(result.best.arch)
    trained = sum(1 for t in result.trials if t.evaluated)
    print(f"winner: {space.format(winner)}", file=sys.stderr, flush=True)
    final = final_task(task, args)
    found = retrained(lambda: space.build(winner, task.input_shape, task.num_classes), final, args)
    size = _count(space, winner, task)
    rows = [
        f"| {args.dataset} | evolution, {trained} candidates x {args.epochs} epochs "
        f"({search_seconds / 60:.1f} min) | {space.format(winner)} | {size:,} "
        f"| {show(found)} |"
    ]

    def baseline() -> nn.Module:
        if text:
            return space.build(space.parse("kim2014"), task.input_shape, task.num_classes)
        return SmallCNN2d(task.num_classes)

    name = "Kim CNN-rand (kim2014)" if text else "small 2-D CNN on log-mels"
    rows.append(
        f"| {args.dataset} | baseline | {name} | {params(baseline()):,} "
        f"| {show(retrained(baseline, final, args))} |"
    )
    if not text:
        held = final_task(fsdd_task(args.data, held_out=True), args)
        again = retrained(
            lambda: space.build(winner, held.input_shape, held.num_classes), held, args
        )
        base = retrained(lambda: SmallCNN2d(held.num_classes), held, args)
        rows.append(f"| fsdd, {HELD_OUT} held out | winner retrained | | | {show(again)} |")
        rows.append(f"| fsdd, {HELD_OUT} held out | baseline retrained | | | {show(base)} |")
    header = [
        f"Retraining: {args.final_epochs} epochs, AdamW lr {args.lr}, batch 50, one thread, "
        f"{retraining(args)}.",
        "",
        "| data | search | architecture | params | test accuracy |",
        "|---|---|---|---|---|",
    ]
    return [*header, *rows]


def random_subnets(space: SearchSpace, task: Task, args: argparse.Namespace) -> list[Arch]:
    """``--subnets`` distinct random sub-networks within ``--max-params`` (by ``--seed + 1``)."""
    rng = np.random.default_rng(args.seed + 1)
    randoms: list[Arch] = []
    while len(randoms) < args.subnets:
        arch = space.sample(rng)
        if arch not in randoms and (
            not args.max_params or _count(space, arch, task) <= args.max_params
        ):
            randoms.append(arch)
    return randoms


def retrain_part(args: argparse.Namespace) -> list[str]:
    """Only the retraining of the random sub-networks of ``--part transformer`` (into
    ``--cache``, which the transformer part then reads): no supernet."""
    task = trec_task(args.data)
    space = make_space("transformer", vocab_size=task.vocabulary_size or 0)
    final = final_task(task, args)
    lines = ["| sub-network | params | retrained test accuracy |", "|---|---|---|"]
    for i, arch in enumerate(random_subnets(space, task, args)):
        build = partial(space.build, arch, task.input_shape, task.num_classes)
        accuracies = retrained(build, final, args, key=str(arch))
        print(f"{space.format(arch)}: {show(accuracies)}", file=sys.stderr, flush=True)
        lines.append(f"| random {i + 1} | {_count(space, arch, task):,} | {show(accuracies)} |")
    return lines


def transformer_part(args: argparse.Namespace) -> list[str]:
    task = trec_task(args.data)
    space = make_space("transformer", vocab_size=task.vocabulary_size or 0)
    started = time.perf_counter()
    dropout = {} if args.supernet_dropout is None else {"dropout": args.supernet_dropout}
    searcher = make_method(
        "spos",
        make_space("transformer", vocab_size=task.vocabulary_size or 0, **dropout),
        optimizer="adamw",
        lr=args.supernet_lr,
        weight_decay=0.01,
        max_params=args.max_params,
        sampling=args.sampling,
        **({"distill": True} if args.distill else {}),
    )
    found = searcher.search(task, epochs=args.supernet_epochs, batch_size=50, seed=args.seed)
    search_seconds = time.perf_counter() - started
    randoms = random_subnets(space, task, args)
    final = final_task(task, args)
    scoring = config(args, args.final_epochs)
    inherited: list[float] = []
    for arch in [found.arch, *randoms]:  # all first: the retrainings may come from --cache
        child = found.supernet.child(arch)
        inherited.append(100.0 * Trainer(scoring).evaluate(child, task.x_valid, task.y_valid))
        print(f"{space.format(arch)}: inherited {inherited[-1]:.1f}", file=sys.stderr, flush=True)
    reference = _read_reference(args.reference) if args.reference is not None else {}
    scores: list[float] = []
    for arch in [found.arch, *randoms]:
        if str(arch) in reference:
            accuracies = reference[str(arch)]
        elif args.retrain_seeds:
            build = partial(space.build, arch, task.input_shape, task.num_classes)
            accuracies = retrained(build, final, args, key=str(arch))
        else:
            accuracies = [float("nan")]
        scores.append(float(np.mean(accuracies)))
        print(f"{space.format(arch)}: retrained {show(accuracies)}", file=sys.stderr, flush=True)
    known = [i for i in range(1, len(scores)) if np.isfinite(scores[i])]
    rho = float(spearmanr([inherited[i] for i in known], [scores[i] for i in known])[0])
    best_random = max(scores[i] for i in known) if known else float("nan")
    lines = [
        f"spos ({args.sampling} sampling{', in-place distillation' if args.distill else ''}"
        + ("" if args.supernet_dropout is None else f", dropout {args.supernet_dropout}")
        + ") on the transformer supernet: "
        f"{args.supernet_epochs} epochs, evolution of "
        f"{searcher.evaluated_} sub-networks, {search_seconds / 60:.1f} min"
        + (f", max_params {args.max_params:,}" if args.max_params else "")
        + (
            f"; retrained accuracies from {args.reference.name} where it has them"
            if args.reference is not None
            else ""
        )
        + (
            f"; every other network retrained {args.final_epochs} epochs (AdamW lr {args.lr}, "
            f"{retraining(args)})."
            if args.retrain_seeds
            else "; no other network retrained (--retrain-seeds 0)."
        ),
        "",
        "| sub-network | params | inherited valid accuracy | retrained test accuracy |",
        "|---|---|---|---|",
    ]
    for label, arch, a, b in zip(
        ["found", *[f"random {i + 1}" for i in range(args.subnets)]],
        [found.arch, *randoms],
        inherited,
        scores,
        strict=True,
    ):
        lines.append(f"| {label} | {_count(space, arch, task):,} | {a:.1f} | {b:.1f} |")
    lines += [
        "",
        f"Spearman (inherited vs retrained, {len(known)} random): {rho:.2f}; "
        f"found {scores[0]:.1f} vs best random {best_random:.1f} "
        f"({scores[0] - best_random:+.1f} points).",
    ]
    return lines


def _read_reference(path: Path) -> dict[str, list[float]]:
    """Retrained accuracies measured before (JSON lines ``{"arch": text, "retrained":
    [accuracy per seed]}``), used instead of retraining those archs."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["arch"]: [float(a) for a in row["retrained"]] for row in rows}


def retraining(args: argparse.Namespace) -> str:
    """How the final networks were trained, for a table's caption."""
    split = "training and validation split" if args.full_train else "training split"
    seeds = f"mean ± sd of {args.retrain_seeds} seeds" if args.retrain_seeds > 1 else "one seed"
    return f"{split}, {seeds}"


def _count(space: SearchSpace, arch: Arch, task: Task) -> int:
    with torch.device("meta"):
        return params(space.build(arch, task.input_shape, task.num_classes))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--part", choices=("linear", "search", "transformer", "retrain"), default="linear"
    )
    parser.add_argument("--dataset", choices=("trec", "fsdd"), default="trec")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--final-epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--supernet-epochs", type=int, default=10)
    parser.add_argument("--supernet-lr", type=float, default=1e-3)
    parser.add_argument("--max-params", type=int, default=0)
    parser.add_argument("--sampling", choices=("uniform", "sandwich"), default="uniform")
    parser.add_argument("--subnets", type=int, default=10, help="random sub-networks")
    parser.add_argument("--distill", action="store_true", help="sandwich: in-place distillation")
    parser.add_argument("--supernet-dropout", type=float, default=None, help="default: space's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retrain-seeds", type=int, default=1)
    parser.add_argument("--retrain-seed", type=int, default=None, help="default: --seed")
    parser.add_argument("--cache", type=Path, default=None, help="retrainings (JSON lines)")
    parser.add_argument(
        "--reference", type=Path, default=None, help="retrained accuracies measured before"
    )
    parser.add_argument(
        "--full-train", action="store_true", help="retrain on the training and validation split"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    parts: dict[str, Any] = {
        "linear": linear_part,
        "search": search_part,
        "transformer": transformer_part,
        "retrain": retrain_part,
    }
    lines = parts[args.part](args)
    command = "Command: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`"
    print("\n".join([*lines, "", command]))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
