"""Policies: how a constructor run of a `ChoiceSpace` answers each decision as it is asked
(its first choice, one drawn from a generator, one given, with a fallback for a decision
that becomes active)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nasforge.arch import Choice
from nasforge.space.choices.decision import ChoiceDecision

Policy = Callable[[ChoiceDecision], Choice]
"""Answers a decision the constructor asks."""


def first_choice(decision: ChoiceDecision) -> Choice:
    """Every decision at its first choice."""
    return decision.choices[0]


def first_or(assigned: dict[str, Choice]) -> Policy:
    """The choices of ``assigned``; a decision it lacks at its first choice."""
    return given_or(assigned, first_choice)


def random_policy(rng: np.random.Generator) -> Policy:
    """Each decision drawn uniformly from ``rng``."""

    def policy(decision: ChoiceDecision) -> Choice:
        return decision.choices[int(rng.integers(len(decision.choices)))]

    return policy


def given_or(assigned: dict[str, Choice], fallback: Policy) -> Policy:
    """The choices of ``assigned``; a decision it lacks answered by ``fallback``."""

    def policy(decision: ChoiceDecision) -> Choice:
        if decision.label in assigned:
            return assigned[decision.label]
        return fallback(decision)

    return policy
