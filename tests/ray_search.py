"""A search on a Ray cluster, run as its own process by tests/test_ray_executor.py (Ray keeps
per-process state, such as its auth token, that a test process must not share).

Usage: python ray_search.py NB201_CSV STORE ADDRESS STALL_DIR QUERIES
"""

from __future__ import annotations

import sys

from nasforge.evaluate import NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.ray_executor import RayExecutor
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from ray_helpers import SlowNB201Benchmark


def main(csv: str, store: str, address: str, stall_dir: str, queries: str) -> None:
    space = NB201Space()
    executor = RayExecutor(address=address)
    experiment = Experiment(
        space,
        make_strategy("random", space, seed=5),
        SlowNB201Benchmark(NB201Table.from_csv(csv), delay=0.3, stall_dir=stall_dir),
        budget=Budget(queries=int(queries)),
        store=Store(store),
        name="cluster",
        executor=executor,
    )
    experiment.run()
    print(f"workers={executor.workers}")


if __name__ == "__main__":
    main(*sys.argv[1:])
