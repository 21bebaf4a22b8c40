"""A NAS-Bench-201 search that a test kills with SIGKILL at a chosen moment, then resumes.

Usage: python killable_search.py TABLE STORE QUERIES [MOMENT N MARKER]

MOMENT is where the process stops to be killed, at its N-th occurrence in this run:
``evaluate`` (inside an evaluation), ``ask`` (after the strategy proposed, before anything
of the trial is written) or ``write`` (inside a store transaction, some writes done and
not committed). There it creates the file MARKER and sleeps, so that the test's kill lands
exactly there. Without MOMENT it runs to the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate import NB201Benchmark, Result
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from nasforge.strategy.base import Proposal

SEED = 5
NAME = "killed"


class _Pause:
    def __init__(self, moment: str, count: int, marker: Path) -> None:
        self.moment, self.count, self.marker = moment, count, marker

    def at(self, moment: str) -> None:
        if moment != self.moment:
            return
        self.count -= 1
        if self.count == 0:
            self.marker.write_text(moment)
            time.sleep(600)


def experiment(table: str, store: Store, queries: int, pause: _Pause | None) -> Experiment:
    space = NB201Space()
    strategy = make_strategy("evolution", space, seed=SEED)
    evaluator = NB201Benchmark.from_csv(table, fidelity=12)
    if pause is not None:
        _pause_inside(strategy, evaluator, store, pause)
    return Experiment(
        space, strategy, evaluator, budget=Budget(queries=queries), store=store, name=NAME
    )


def _pause_inside(strategy: Any, evaluator: Any, store: Store, pause: _Pause) -> None:
    """Wrap the strategy's ask, the evaluator and the store's transactions with the pause."""
    ask, evaluate, batch = strategy.ask, evaluator.evaluate, store.batch

    def paused_ask() -> Proposal:
        proposal: Proposal = ask()
        pause.at("ask")
        return proposal

    def paused_evaluate(arch: Arch, budget: float | None = None) -> Result:
        pause.at("evaluate")
        result: Result = evaluate(arch, budget)
        return result

    @contextmanager
    def paused_batch() -> Iterator[None]:
        with batch():
            yield
            pause.at("write")

    strategy.ask = paused_ask
    evaluator.evaluate = paused_evaluate
    store.batch = paused_batch  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    table, store_path, queries = argv[0], argv[1], int(argv[2])
    pause = _Pause(argv[3], int(argv[4]), Path(argv[5])) if len(argv) > 3 else None
    with Store(store_path) as store:
        experiment(table, store, queries, pause).run()


if __name__ == "__main__":
    main(sys.argv[1:])
