"""A strategy's own overhead: seconds for 10,000 ask/tell rounds on NB201, no evaluation.

Scores are hashes of the arch text (two independent ones for the multi-objective strategies).

python benchmarks/strategy_overhead.py
"""

from __future__ import annotations

import argparse
import time
import zlib

from nasforge.space import NB201Space
from nasforge.strategy import Observation, make_strategy

STRATEGIES = ("random", "evolution", "local", "nsga2", "pareto-local")


def score(text: str) -> float:
    return zlib.crc32(text.encode()) % 10_000 / 100


def seconds_for(name: str, rounds: int) -> float:
    space = NB201Space()
    strategy = make_strategy(name, space, seed=0)
    started = time.perf_counter()
    for _ in range(rounds):
        proposal = strategy.ask()
        text = str(proposal.arch)
        value = score(text)
        strategy.tell(Observation(proposal, value, (value, score(text[::-1])), 0.0))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"| strategy | seconds for {args.rounds:,} ask+tell (best of {args.repeats}) |")
    print("|---|---|")
    for name in STRATEGIES:
        best = min(seconds_for(name, args.rounds) for _ in range(args.repeats))
        print(f"| {name} | {best:.3f} |")


if __name__ == "__main__":
    main()
