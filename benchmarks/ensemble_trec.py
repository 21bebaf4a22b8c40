"""Ensembles of the best on TREC (issue 33 item 3): K = 1, 3, 5 members, top-K against
Neural Ensemble Search's forward selection, beside the tf-idf SVM baseline and Kim 2014.

One search per seed, as ``nasforge search --task text`` runs it (the `textconv` space,
evolution, the CLI's training defaults, one worker per core); then the best ``--pool``
distinct archs are retrained from scratch for ``--final-epochs`` each (exactly as
``--ensemble`` retrains them: `nasforge.evaluate.training.retrain`, same seeds), and every
ensemble is read off their probabilities: top-K is the first K of the pool, forward selection
chooses K of the first 2K (`nasforge.evaluate.ensemble.forward_selection`). So one search
gives what ``--ensemble 1``, ``--ensemble 3``, ``--ensemble 5`` and
``--ensemble-selection forward`` would each give after it. ``--final-data`` as the search's:
``all`` (the default) retrains on the training and validation splits, where forward
selection has no held-out predictions to choose on and is not measured; ``train`` retrains
on the training split alone.

    PYTHONPATH=src python benchmarks/ensemble_trec.py --seeds 0 --budget 12 --epochs 4 \
        --final-epochs 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from nasforge.arch import Arch
from nasforge.evaluate.baselines import search_baseline
from nasforge.evaluate.ensemble import accuracy, class_probabilities, forward_selection
from nasforge.evaluate.training import TrainingEvaluator, retrain
from nasforge.run.budget import Budget
from nasforge.run.executor import make_executor
from nasforge.run.experiment import Experiment
from nasforge.run.results import SearchResult
from nasforge.run.setup import default_workers, training_evaluator
from nasforge.space.base import SearchSpace
from nasforge.strategy import make_strategy

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trec"
KIM_2014 = 91.2
SVM_ALL_TRAINING = 90.8


def one_seed(args: argparse.Namespace, seed: int) -> dict[str, object]:
    began_seed = time.perf_counter()
    space, evaluator = training_evaluator(
        "text",
        args.data / "train_5500.label",
        args.space,
        {},
        {},
        task_options={"test_path": str(args.data / "TREC_10.label")},
        epochs=args.epochs,
        threads=getattr(args, "threads", None),
        time_limit=120.0,
        seed=seed,
    )
    assert isinstance(evaluator, TrainingEvaluator)
    task = evaluator.task
    started = time.perf_counter()
    result = search(space, evaluator, args.budget, seed, getattr(args, "workers", None))
    search_seconds = time.perf_counter() - started
    ranked = result.distinct_ranked(space)[: args.pool]
    # forward selection chooses on validation predictions: only when the retrain leaves them out
    with_validation = getattr(args, "final_data", "all") == "all"
    log(f"seed {seed}: searched {len(result.trials)} in {search_seconds:.0f} s")
    valid, test, member_test, retrain_seconds = [], [], [], []
    for i, arch in enumerate(ranked):
        if time.perf_counter() - began_seed > 60.0 * args.minutes and i >= 1:
            log(f"  --minutes {args.minutes} reached: {i} of {len(ranked)} retrained")
            break
        began = time.perf_counter()
        model = retrain(evaluator, arch, args.final_epochs, with_validation=with_validation)
        retrain_seconds.append(time.perf_counter() - began)
        valid.append(class_probabilities(model.model, task.x_valid))
        test.append(class_probabilities(model.model, task.x_test))
        member_test.append(model.test_accuracy)
        log(f"  {i + 1}/{len(ranked)} {model.test_accuracy:.2f} in {retrain_seconds[-1]:.0f} s")
    rows: dict[str, float] = {}
    for k in args.k:
        if k > len(test):
            continue
        rows[f"top-{k}"] = accuracy(np.mean(test[:k], axis=0), task.y_test)
        pool = min(2 * k, len(test))
        if with_validation or (pool == k and k > 1):
            continue  # no choice left to forward selection
        chosen = forward_selection(valid[:pool], task.y_valid, k)
        rows[f"forward-{k}"] = accuracy(np.mean([test[i] for i in chosen], axis=0), task.y_test)
    baseline = search_baseline(evaluator, with_validation=with_validation)
    return {
        "seed": seed,
        "search_seconds": search_seconds,
        "retrain_seconds": retrain_seconds,
        "archs": [space.format(Arch(a)) for a in ranked[: len(test)]],
        "valid_accuracy": [accuracy(p, task.y_valid) for p in valid],
        "member_test": member_test,
        "ensembles": rows,
        "baseline": baseline,
    }


def search(
    space: SearchSpace,
    evaluator: TrainingEvaluator,
    budget: int,
    seed: int,
    workers: int | None = None,
) -> SearchResult:
    """Evolution over ``budget`` candidates as ``nasforge search`` runs it (a local process
    pool of ``workers``, by default one per core)."""
    return Experiment(
        space,
        make_strategy("evolution", space, seed=seed),
        evaluator,
        budget=Budget(queries=budget),
        executor=make_executor("local", workers=workers or default_workers(evaluator)),
    ).run()


def _order(name: str) -> tuple[int, str]:
    kind, _, k = name.partition("-")
    return int(k), kind


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--final-epochs", type=int, default=30)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--pool", type=int, default=10, help="archs retrained (>= 2 max k)")
    parser.add_argument(
        "--final-data",
        choices=("all", "train"),
        default="all",
        help="retrain on train+valid (all; no forward selection then) or train alone",
    )
    parser.add_argument("--space", default=None, help="default: the CLI's (textconv)")
    parser.add_argument(
        "--minutes", type=float, default=25.0, help="stop retraining after this (per seed)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads per worker")
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    runs = [one_seed(args, seed) for seed in args.seeds]
    if args.json is not None:
        args.json.write_text(json.dumps(runs, indent=2))
    print("\n".join(table(runs)))


def table(runs: list[dict[str, object]]) -> list[str]:
    """The markdown table of `one_seed`'s results: one row per seed, then the means."""
    names = sorted({n for r in runs for n in r["ensembles"]}, key=_order)  # type: ignore[attr-defined]
    lines = ["| seed | " + " | ".join(names) + " | SVM (search split) | search s | retrain s |"]
    lines.append("|---" * (len(names) + 4) + "|")
    for run in runs:
        ensembles = run["ensembles"]
        assert isinstance(ensembles, dict)
        baseline = run["baseline"]
        svm = f"{baseline['test_accuracy']:.1f}" if isinstance(baseline, dict) else "-"
        seconds = run["retrain_seconds"]
        assert isinstance(seconds, list)
        lines.append(
            f"| {run['seed']} | "
            + " | ".join(f"{ensembles[n]:.1f}" if n in ensembles else "-" for n in names)
            + f" | {svm} | {run['search_seconds']:.0f} | {sum(seconds):.0f} |"
        )
    means = {
        n: float(np.mean([r["ensembles"][n] for r in runs if n in r["ensembles"]]))  # type: ignore[index, operator]
        for n in names
    }
    lines.append(
        "| mean | "
        + " | ".join(f"{means[n]:.1f}" for n in names)
        + f" | (all training data: {SVM_ALL_TRAINING}; Kim 2014: {KIM_2014}) | | |"
    )
    return lines


if __name__ == "__main__":
    main()
