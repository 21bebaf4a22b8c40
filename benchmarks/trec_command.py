"""TREC from CSV files with the issue's command (issue 33): ``nasforge search --task text
--ensemble 5 --budget 12`` once per seed, timed, then the ensembles of its first 1, 3 and 5
members read from the saved model folder.

Writes TREC's two files as ``text,label`` CSV files (the 6 coarse labels) into ``--work``,
runs the command there for each of ``--seeds`` (the CLI's defaults otherwise: `textconv`,
evolution, 10 epochs, 2 workers, each member retrained 30 epochs on training + validation),
and prints one row per seed: top-1 (what ``--ensemble 1`` saves), top-3, top-5 (what the
command saved), each member's test accuracy, the baseline's and the wall time.

    PYTHONPATH=src python benchmarks/trec_command.py --seeds 0 1 2 --work /tmp/trec
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasforge.export import load_model

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trec"


def write_csv(source: Path, target: Path) -> None:
    """TREC's ``COARSE:fine text`` lines (latin-1) as ``text,label`` rows, coarse labels."""
    with source.open(encoding="latin-1") as lines, target.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["text", "label"])
        for line in lines:
            if line.strip():
                label, text = line.rstrip("\n").split(" ", 1)
                rows.writerow([text, label.split(":")[0]])


def top_k_accuracies(model_dir: Path, test_csv: Path, ks: tuple[int, ...]) -> dict[int, float]:
    """Test accuracy (%) of the mean probabilities of the saved ensemble's first k members."""
    with test_csv.open() as rows:
        table = list(csv.DictReader(rows))
    loaded = load_model(model_dir)
    names = list(loaded.class_names or ())
    labels = np.array([names.index(row["label"]) for row in table])
    inputs = torch.tensor(loaded.encode_texts([row["text"] for row in table]))
    with torch.no_grad():
        probabilities = [torch.softmax(m(inputs), 1).numpy() for m in loaded.model.members]
    return {
        k: 100.0 * float(np.mean(np.mean(probabilities[:k], axis=0).argmax(1) == labels))
        for k in ks
        if k <= len(probabilities)
    }


def one_seed(seed: int, work: Path, budget: int, ensemble: int) -> dict[str, object]:
    out, store = work / f"model_s{seed}", work / f"store_s{seed}.sqlite"
    command = [
        "nasforge", "search", "--task", "text", "--data", "trec_train.csv",
        "--test-data", "trec_test.csv", "--ensemble", str(ensemble), "--budget", str(budget),
        "--seed", str(seed), "--out", out.name, "--store", store.name, "--json",
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"seed {seed}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    final = json.loads(done.stdout)["final"]
    return {
        "seed": seed,
        "top": top_k_accuracies(out, work / "trec_test.csv", (1, 3, 5)),
        "members": [m["test_accuracy"] for m in final["members"]],
        "baseline": final["baseline"]["test_accuracy"],
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="TREC's folder")
    parser.add_argument("--work", type=Path, required=True, help="folder for CSVs and runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--ensemble", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    write_csv(args.data / "train_5500.label", args.work / "trec_train.csv")
    write_csv(args.data / "TREC_10.label", args.work / "trec_test.csv")
    print("| seed | top-1 | top-3 | top-5 | members | SVM | seconds |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        row = one_seed(seed, args.work, args.budget, args.ensemble)
        top: dict[int, float] = row["top"]  # type: ignore[assignment]
        members = ", ".join(f"{a:.1f}" for a in row["members"])  # type: ignore[attr-defined]
        cells = " | ".join(f"{top[k]:.1f}" if k in top else "-" for k in (1, 3, 5))
        print(f"| {seed} | {cells} | {members} | {row['baseline']:.1f} | {row['seconds']} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
