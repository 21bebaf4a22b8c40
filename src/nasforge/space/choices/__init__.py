"""Spaces written in PyTorch: a model's constructor asks for its choices by label
(define-by-run), and that one definition yields the space's decisions (`ChoiceSpace`), its
children and its supernet (`ChoiceSuperNet`).

The modules: `primitives` (`Choices`, the object a constructor asks), `decision`
(`ChoiceDecision`), `mixed` (`MixedModule`, `Zero`) and `inputs` (`ChosenInputs`,
`MixedInputs`): what the primitives return; `mode` (`SuperMode`, how a supernet runs),
`space` (`ChoiceSpace`: decisions by discovery) with its `policies`, `supernet`
(`ChoiceSuperNet`), `user_space` (a space loaded from a user's spec).
``from nasforge.space.choices import Choices`` is the import users write; this package
re-exports what they use.
"""

from __future__ import annotations

from nasforge.space.choices.decision import ChoiceDecision, largest
from nasforge.space.choices.inputs import ChosenInputs, MixedInputs
from nasforge.space.choices.mixed import MixedModule, Zero
from nasforge.space.choices.mode import SuperMode
from nasforge.space.choices.primitives import Choices, fixed_choices
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.choices.supernet import ChoiceSuperNet

__all__ = [
    "ChoiceDecision",
    "ChoiceSpace",
    "ChoiceSuperNet",
    "Choices",
    "ChosenInputs",
    "MixedInputs",
    "MixedModule",
    "SuperMode",
    "Zero",
    "fixed_choices",
    "largest",
]
