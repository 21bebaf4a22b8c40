"""`Evaluator`: measures one architecture at one budget. It never decides what comes next."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate.result import Result


class Evaluator(ABC):
    """Turns (arch, budget) into a Result."""

    name: str = "evaluator"
    default_metric: str = "valid_acc"
    """The metric an objective optimizes unless told otherwise."""

    default_budget: float | None = None
    """The budget (fidelity) used when a proposal names none."""

    @abstractmethod
    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        """Measure `arch` at `budget` (an evaluator-specific fidelity; None = default)."""

    def metric_names(self) -> frozenset[str] | None:
        """The metrics every successful result holds (None: not known in advance)."""
        return None

    def config(self) -> dict[str, Any]:
        """Settings that, with the evaluator's kind, rebuild it (stored with an experiment)."""
        return {}
