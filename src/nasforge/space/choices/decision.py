"""`ChoiceDecision`: a decision found by running a model's constructor (its kind and whether
it is conditional), and `largest`, the choice a supernet holds weights for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nasforge.arch import Choice
from nasforge.space.base import Decision

Kind = Literal["module", "value", "inputs", "repeat"]


@dataclass(frozen=True)
class ChoiceDecision(Decision):
    """A decision found by running a model's constructor: its kind, and whether it is
    conditional (inactive under some assignments of the other decisions)."""

    kind: Kind = "value"
    conditional: bool = False


def largest(decision: Decision) -> Choice:
    """The choice a supernet holds weights for: the largest number (the first choice for
    module and input choices, whose candidates are all built, and for value choices of
    strings: a categorical decision that holds no weights of its own, which sampling methods
    sample and gradient methods leave at this first value)."""
    if isinstance(decision, ChoiceDecision) and decision.kind in ("module", "inputs"):
        return decision.choices[0]
    if any(isinstance(c, str) for c in decision.choices):
        return decision.choices[0]
    return max(decision.choices)
