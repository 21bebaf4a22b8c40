"""What telling results in trial order costs: the default `nasforge search`, ordered and
``--unordered``, side by side.

The default search (evolution over NB201 C=8, N=1 cells on scikit-learn's digits, 100
trained candidates, 2 worker processes on this 2-core machine) is run through the CLI with
``--final-epochs 0`` (the retraining of the winner is the same either way), once ordered
(the default: a seed repeats its trials) and once ``--unordered``, alternating for
``--rounds`` rounds (machine load drifts; adjacent runs see about the same). Each row gives
the search's wall-clock seconds (as the CLI reports them: worker start-up included, Python
and torch start-up not), the proposals, the winner and its validation accuracy. Ordered runs
of one seed must all give the same trials; the script checks it.

Usage::

    python benchmarks/ordered_results.py                 # seed 0, 2 rounds
    python benchmarks/ordered_results.py --seeds 0 1 --rounds 1

This script is not part of the package.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(seed: int, unordered: bool, folder: Path) -> dict[str, object]:
    mode = "unordered" if unordered else "ordered"
    store = folder / f"seed{seed}-{mode}-{len(list(folder.iterdir()))}.sqlite"
    command = [sys.executable, "-m", "nasforge.cli", "search", "--final-epochs", "0"]
    command += ["--seed", str(seed), "--store", str(store), "--json"]
    if unordered:
        command.append("--unordered")
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    payload = json.loads(done.stdout)
    with sqlite3.connect(store) as db:
        trials = db.execute("SELECT number, arch FROM trials ORDER BY number").fetchall()
    return {
        "seconds": payload["usage"]["wall_seconds"],
        "proposals": payload["proposals"],
        "best": payload["best"]["arch"],
        "accuracy": payload["best"]["metrics"]["accuracy"],
        "trials": trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"# python benchmarks/ordered_results.py {shlex.join(sys.argv[1:])}")
    print(f"# {platform.python_version()}, {platform.machine()}")
    print("| seed | round | mode | seconds | proposals | winner accuracy | winner |")
    print("|---:|---:|---|---:|---:|---:|---|")
    seconds: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for seed in args.seeds:
            ordered_trials = []
            for round_ in range(1, args.rounds + 1):
                for unordered in (False, True):
                    row = run(seed, unordered, folder)
                    seconds[unordered].append(float(row["seconds"]))  # type: ignore[arg-type]
                    if not unordered:
                        ordered_trials.append(row["trials"])
                    mode = "unordered" if unordered else "ordered"
                    print(
                        f"| {seed} | {round_} | {mode} | {row['seconds']:.1f} | "
                        f"{row['proposals']} | {row['accuracy']:.2f} | `{row['best']}` |",
                        flush=True,
                    )
            same = all(trials == ordered_trials[0] for trials in ordered_trials)
            print(f"# seed {seed}: ordered runs gave the same trials: {same}")
    ordered, unordered = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(
        f"# median seconds: ordered {ordered:.1f}, unordered {unordered:.1f} "
        f"(ordered / unordered = {ordered / unordered:.2f})"
    )


if __name__ == "__main__":
    main()
