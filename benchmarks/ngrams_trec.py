"""The `ngrams` space (fastText's bag of n-grams) on TREC: one arch trained with and without
the BatchNorm after its bag, on one core, beside the tf-idf linear SVM baseline fit on the
same training split (`nasforge.evaluate.baselines`).

    python benchmarks/ngrams_trec.py --epochs 10

Reads ../shared/data/trec (or --data FOLDER); prints one line per model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nasforge.arch import Arch
from nasforge.data.text import load_text_task
from nasforge.evaluate.baselines import fit_baseline
from nasforge.space import make_space
from nasforge.training import TrainConfig, Trainer

ARCH = "embed_dim=64,ngrams=2,hidden=0,dropout=0.25"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trec"
    parser.add_argument("--data", type=Path, default=default.resolve())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--arch", default=ARCH)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    task = load_text_task(args.data / "train_5500.label", test_path=args.data / "TREC_10.label")
    baseline = fit_baseline(task)
    assert baseline is not None
    print(
        f"{baseline.name}: valid {baseline.valid_accuracy:.1f}, test {baseline.test_accuracy:.1f}"
    )
    space = make_space("ngrams", vocab_size=task.vocabulary_size)
    for norm in (True, False):
        torch.manual_seed(0)
        model = space.build(Arch.parse(args.arch), task.input_shape, task.num_classes)
        if not norm:
            model.norm = torch.nn.Identity()
        trainer = Trainer(TrainConfig(epochs=args.epochs, threads=1))
        started = time.perf_counter()
        report = trainer.fit(model, task)
        test = 100.0 * trainer.evaluate(model, task.x_test, task.y_test)
        print(
            f"ngrams {args.arch}{'' if norm else ' without BatchNorm'}, {args.epochs} epochs: "
            f"valid {100.0 * report.last_valid_accuracy:.1f}, test {test:.1f} "
            f"({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
