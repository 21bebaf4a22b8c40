"""`Strategy`: decides what to evaluate next, through ask and tell.

A strategy sees decisions, encodings and numbers. It never builds a network, reads data or
queries a benchmark. Its whole state is a function of its seed and the sequence of asks and
tells, so an experiment resumes by replaying the stored trials into a fresh strategy.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasforge.arch import Arch
from nasforge.space.base import SearchSpace


@dataclass(frozen=True)
class Proposal:
    """What to evaluate next: an architecture and a budget (None = the evaluator's default)."""

    arch: Arch
    budget: float | None = None


@dataclass(frozen=True)
class Observation:
    """The outcome of a proposal.

    `score` is the (first) objective, higher is better; None if the trial failed or broke a
    constraint. `scores` holds every objective (higher is better), None if the trial failed;
    `violation` is how far it is outside the constraints (0 = feasible).
    """

    proposal: Proposal
    score: float | None
    scores: tuple[float, ...] | None = None
    violation: float = 0.0

    @property
    def arch(self) -> Arch:
        return self.proposal.arch


@dataclass(frozen=True)
class PriorTrial:
    """An architecture evaluated by an earlier search on another task (transfer).

    `z` is its score standardized within that search (mean 0, standard deviation 1, higher
    is better): scores of two tasks are on different scales (CIFAR-10 and ImageNet16-120
    accuracies differ by some 50 points), their standardized ranks much less so.
    """

    arch: Arch
    z: float


class SearchExhausted(Exception):
    """Raised by `ask()` when a strategy has nothing left to propose (e.g. a finished grid)."""


class WaitForResults(Exception):
    """Raised by `ask()` when nothing useful can be proposed until a pending proposal is told:
    ask again after the next `tell()`.

    Only a strategy with pending proposals (asked, not yet told) raises it. Resume replays
    only the asks that returned a proposal, so a strategy that raises it must reach the same
    state without the failed ask. Today only the budget schedulers raise it (``sh``,
    ``hyperband``, ``bohb``, also inside ``warm-start``): once their sampler is exhausted,
    while results that decide the next promotions are still pending.
    """


class Strategy(ABC):
    """Base class: subclasses take `space`, `seed` and keyword parameters, stored unchanged.

    `ask()` may be called again before the `tell()` of an earlier proposal arrives (parallel
    workers), and tells may come in any order: a strategy matches each observation to its
    proposal by arch (and budget), never by position. With nothing pending, ask and tell
    alternate as in a sequential run. `ask()` raises `SearchExhausted` when it will never
    propose anything again, and `WaitForResults` when it can propose nothing useful until
    one of its pending proposals is told (see docs/parallel.md for each strategy).
    """

    name: str = "strategy"
    multi_objective: bool = False
    """True if the strategy uses every objective (`Observation.scores`), not only the first."""

    def __init__(self, space: SearchSpace, *, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self) -> Proposal:
        """The next proposal."""

    def configure_objectives(self, count: int) -> None:  # noqa: B027 - a no-op hook by design
        """Called by the experiment with the number of objectives before the first ask."""

    def tell(self, observation: Observation) -> None:  # noqa: B027 - a no-op hook by design
        """Learn from the outcome of an earlier proposal (no-op by default)."""

    def learn_prior(self, prior: Sequence[PriorTrial]) -> None:  # noqa: B027 - a no-op hook
        """Learn from trials of an earlier search on another task, before the first ask.

        They are not queries of this search and are never told as observations. No-op by
        default: such a strategy gets only what the warm start proposes first."""

    def config(self) -> dict[str, Any]:
        """The keyword parameters this strategy was made with (excluding space and seed)."""
        signature = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "seed"
        }
