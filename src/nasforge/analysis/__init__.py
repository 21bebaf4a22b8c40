"""Understand a search from its trials: which decisions mattered, and why a winner won.

`decision_importance` decomposes the variance of a surrogate model of the trials
(fANOVA-style) into main effects of the decisions and interactions; `explain` reads one
architecture's predicted score as a sum of its decisions' contributions. Both take a space,
architectures and values, so they work on any experiment; `trials_of` reads those from a
store.
"""

from nasforge.analysis.explain import Explanation, explain
from nasforge.analysis.importance import (
    ChoiceEffect,
    DecisionImportance,
    Importance,
    Interaction,
    TooFewTrials,
    decision_importance,
)
from nasforge.analysis.surrogate import DecisionForest
from nasforge.run.scored_trials import ScoredTrials, trials_of

__all__ = [
    "ChoiceEffect",
    "DecisionForest",
    "DecisionImportance",
    "Explanation",
    "Importance",
    "Interaction",
    "ScoredTrials",
    "TooFewTrials",
    "decision_importance",
    "explain",
    "trials_of",
]
