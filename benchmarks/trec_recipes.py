"""Training recipes and cells on TREC: does any reach Kim's published 91.2 (issue 19)?

Every row trains a `textconv` network from scratch on TREC's whole training split (5,452
questions; no validation split held out) and reports its test accuracy (500 questions)
for seeds 0 .. ``--seeds - 1``, one thread each. Recipes:

- ``adamw``: the benchmark's (AdamW lr 0.001, weight decay 0.01, cosine, batch 50, 20
  epochs, through nasforge's `Trainer`); ``adamw-fast`` lr 0.003 for 10 epochs;
  ``adamw-wd`` weight decay 0.1;
- ``word-dropout-0.1`` / ``word-dropout-0.25``: ``adamw``, each token read as unknown with
  that probability while training;
- ``kim`` / ``kim-no-max-norm``: Kim's own recipe (Adadelta, rho 0.95, lr 1, batch 50, 25
  epochs, the classifier's weight rows clipped to norm 3 after every step), in a plain loop
  (the `Trainer` has no Adadelta or max-norm);
- ``cell-123`` / ``cell-234``: ``adamw`` on other cells of the space (kernels 1, 2, 3 or 2,
  3, 4 with 150 filters each; the others use Kim's ``kim2014``).

With ``--errors``: where do the errors fall? Kim's cell (``adamw``) per seed and the linear
SVM of `language_speech.py` (tf-idf word 1-2-grams), each scored on the test questions with
a word outside the training vocabulary and on the others, and how many of the network's
errors the SVM makes too.

Usage::

    python benchmarks/trec_recipes.py --recipes adamw kim --seeds 3
    python benchmarks/trec_recipes.py --errors --seeds 3

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from language_speech import (  # this script's folder is on the path
    DEFAULT_DATA,
    train_and_test,
    trec_svm,
    trec_task,
    whole_training_split,
)
from nasforge.data.task import Task
from nasforge.space import make_space
from nasforge.training import TrainConfig

CELLS = {
    "kim2014": "kim2014",
    "cell-123": "embed_dim=300,branch0_kernel=1,branch0_width=150,branch1_kernel=2,"
    "branch1_width=150,branch2_kernel=3,branch2_width=150,pooling=max,dropout=0.5",
    "cell-234": "embed_dim=300,branch0_kernel=2,branch0_width=150,branch1_kernel=3,"
    "branch1_width=150,branch2_kernel=4,branch2_width=150,pooling=max,dropout=0.5",
}
RECIPES = (
    "adamw", "adamw-fast", "adamw-wd", "word-dropout-0.1", "word-dropout-0.25",
    "kim", "kim-no-max-norm", "cell-123", "cell-234",
)  # fmt: skip
UNKNOWN_ID = 1


class WordDropout(nn.Module):
    """Reads each (non-padding) token as unknown with probability ``p`` while training."""

    def __init__(self, inner: nn.Module, p: float) -> None:
        super().__init__()
        self.inner, self.p = inner, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            dropped = (torch.rand(x.shape) < self.p) & (x > 0)
            x = torch.where(dropped, torch.full_like(x, UNKNOWN_ID), x)
        out: torch.Tensor = self.inner(x)
        return out


def build(task: Task, cell: str, seed: int) -> nn.Module:
    space = make_space("textconv", vocab_size=task.vocabulary_size or 0)
    torch.manual_seed(seed)
    return space.build(space.parse(CELLS[cell]), task.input_shape, task.num_classes)


def with_trainer(task: Task, model: nn.Module, seed: int, **overrides: float) -> float:
    settings = {"epochs": 20, "lr": 1e-3, "weight_decay": 0.01, **overrides}
    config = TrainConfig(
        epochs=int(settings["epochs"]), batch_size=50, optimizer="adamw", lr=settings["lr"],
        weight_decay=settings["weight_decay"], threads=1, seed=seed,
    )  # fmt: skip
    return train_and_test(model, task, config)


def kims_recipe(task: Task, model: nn.Module, seed: int, max_norm: float | None) -> float:
    """Adadelta (rho 0.95, lr 1), batch 50, 25 epochs; the classifier's rows (one per class,
    over every branch's block) clipped to ``max_norm`` after each step."""
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)]
    x, y = torch.from_numpy(task.x_train.copy()), torch.from_numpy(task.y_train.copy())
    generator = torch.Generator().manual_seed(seed)
    for _ in range(25):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 50):
            batch = order[start : start + 50]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if max_norm is not None:
                with torch.no_grad():
                    rows = sum(m.weight.pow(2).sum(dim=1, keepdim=True) for m in classifier)
                    scale = torch.clamp(max_norm / torch.sqrt(rows), max=1.0)
                    for layer in classifier:
                        layer.weight.mul_(scale)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(task.x_test.copy())).argmax(1).numpy()
    return 100.0 * float(np.mean(predicted == task.y_test))


def run(recipe: str, task: Task, seed: int) -> float:
    if recipe.startswith("cell-"):
        return with_trainer(task, build(task, recipe, seed), seed)
    model = build(task, "kim2014", seed)
    if recipe == "adamw":
        return with_trainer(task, model, seed)
    if recipe == "adamw-fast":
        return with_trainer(task, model, seed, epochs=10, lr=3e-3)
    if recipe == "adamw-wd":
        return with_trainer(task, model, seed, weight_decay=0.1)
    if recipe.startswith("word-dropout-"):
        p = float(recipe.removeprefix("word-dropout-"))
        return with_trainer(task, WordDropout(model, p), seed)
    return kims_recipe(task, model, seed, None if recipe == "kim-no-max-norm" else 3.0)


def error_rows(task: Task, data: Path, seeds: int) -> list[str]:
    """Accuracy on questions with and without an unknown word, network and SVM."""
    svm_right = trec_svm(data, task.class_names or ()) == task.y_test
    unknown = np.any(task.x_test == UNKNOWN_ID, axis=1)

    def row(name: str, right: np.ndarray, shared: str) -> str:
        return (
            f"| {name} | {100 * right.mean():.1f} | {100 * right[unknown].mean():.1f} "
            f"| {100 * right[~unknown].mean():.1f} | {int((~right).sum())} | {shared} |"
        )

    rows = [
        f"{int(unknown.sum())} of {len(unknown)} test questions hold a word outside the "
        "training vocabulary.",
        "",
        "| model | test accuracy | with an unknown word | without | errors "
        "| also wrong in the SVM |",
        "|---|---|---|---|---|---|",
        row("linear SVM, word 1-2-grams", svm_right, ""),
    ]
    for seed in range(seeds):
        model = build(task, "kim2014", seed)
        with_trainer(task, model, seed)
        model.eval()
        with torch.no_grad():
            predicted = model(torch.from_numpy(task.x_test.copy())).argmax(1).numpy()
        right = predicted == task.y_test
        both = int(np.sum(~right & ~svm_right))
        rows.append(row(f"`kim2014`, `adamw`, seed {seed}", right, str(both)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="where the errors fall")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = whole_training_split(trec_task(args.data))
    if args.errors:
        print("\n".join(error_rows(task, args.data, args.seeds)))
        print("\nCommand: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`")
        return
    print("| recipe | test accuracy per seed | mean ± sd | seconds |")
    print("|---|---|---|---|")
    for recipe in args.recipes:
        started = time.perf_counter()
        accuracies = [run(recipe, task, seed) for seed in range(args.seeds)]
        spread = float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0
        print(
            f"| {recipe} | {', '.join(f'{a:.1f}' for a in accuracies)} "
            f"| {np.mean(accuracies):.1f} ± {spread:.1f} | {time.perf_counter() - started:.0f} |",
            flush=True,
        )
    print("\nCommand: `python " + " ".join(shlex.quote(a) for a in sys.argv) + "`")


if __name__ == "__main__":
    main()
