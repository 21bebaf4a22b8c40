"""Joint search of hyperparameters and architecture: hyperparameters as decisions.

`WithHyperparameters` wraps a space and adds the decisions ``hp.lr``, ``hp.weight_decay`` and
``hp.batch_size`` after the inner ones, so that every strategy searches both at once::

    space = WithHyperparameters(NB201Space(), lr=(0.01, 0.1), weight_decay=None)
    [d.label for d in space.decisions][-2:]  # ['hp.lr', 'hp.batch_size']
    inner_arch, hyperparameters = space.split(arch)  # ..., {'lr': 0.1, 'batch_size': 64}

Its text form is the inner space's text form, a space, then the hyperparameters::

    |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...| hp.lr=0.1,hp.batch_size=64
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasforge.arch import Arch
from nasforge.errors import SpaceError
from nasforge.space.base import Decision, SearchSpace

if TYPE_CHECKING:
    from torch import nn

PREFIX = "hp."
HYPERPARAMETERS: tuple[str, ...] = ("lr", "weight_decay", "batch_size")

Hyperparameter = float | int
HPChoices = Sequence[Hyperparameter] | None


class WithHyperparameters(SearchSpace):
    """`space` plus one decision per hyperparameter; an empty or None tuple leaves it out."""

    def __init__(
        self,
        space: SearchSpace,
        lr: HPChoices = (0.01, 0.05, 0.1),
        weight_decay: HPChoices = (0.0, 5e-4),
        batch_size: HPChoices = (32, 64, 128),
    ) -> None:
        if isinstance(space, WithHyperparameters):
            raise SpaceError(f"space {space.name!r} already has hyperparameter decisions")
        self.space = space
        self.name = space.name
        self.choices: dict[str, tuple[Hyperparameter, ...]] = {}
        if lr:
            self.choices["lr"] = _floats("lr", lr, minimum=0.0, inclusive=False)
        if weight_decay:
            self.choices["weight_decay"] = _floats("weight_decay", weight_decay, minimum=0.0)
        if batch_size:
            self.choices["batch_size"] = _batch_sizes(batch_size)
        hp_decisions = [Decision(PREFIX + name, values) for name, values in self.choices.items()]
        clash = {d.label for d in hp_decisions} & {d.label for d in space.decisions}
        if clash:
            raise SpaceError(f"space {space.name!r} already has decision(s) {sorted(clash)}")
        self._inner_labels = tuple(d.label for d in space.decisions)
        self._decisions = (*space.decisions, *hp_decisions)

    @classmethod
    def from_config(
        cls, space: SearchSpace, hyperparameters: Mapping[str, HPChoices]
    ) -> WithHyperparameters:
        """Wrap `space` with ``{"lr": [...], ...}``; hyperparameters not named are left out."""
        if not isinstance(hyperparameters, Mapping):
            raise SpaceError(
                f"hyperparameters must map names to lists of choices, not {hyperparameters!r}"
            )
        unknown = sorted(set(hyperparameters) - set(HYPERPARAMETERS))
        if unknown:
            raise SpaceError(
                f"unknown hyperparameter(s) {', '.join(unknown)}; "
                f"choose from {', '.join(HYPERPARAMETERS)}"
            )
        return cls(
            space,
            lr=hyperparameters.get("lr"),
            weight_decay=hyperparameters.get("weight_decay"),
            batch_size=hyperparameters.get("batch_size"),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        hyperparameters = {name: list(values) for name, values in self.choices.items()}
        return {**self.space.config(), "hyperparameters": hyperparameters}

    # -- the two halves of an arch -----------------------------------------------
    def split(self, arch: Arch) -> tuple[Arch, dict[str, Hyperparameter]]:
        """The inner space's arch and the hyperparameters (``{"lr": 0.1, ...}``)."""
        arch = self.validate(arch)
        inner = Arch({label: arch[label] for label in self._inner_labels})
        hyperparameters: dict[str, Hyperparameter] = {}
        for name in self.choices:
            value = arch[PREFIX + name]
            hyperparameters[name] = int(value) if name == "batch_size" else float(value)
        return inner, hyperparameters

    def join(self, inner: Arch, hyperparameters: Mapping[str, Hyperparameter]) -> Arch:
        """The arch of this space made of an inner arch and its hyperparameters."""
        hp = {PREFIX + name: hyperparameters[name] for name in self.choices}
        return self.validate(Arch({**self.space.validate(inner), **hp}))

    # -- delegated to the inner space ----------------------------------------------
    def canonical(self, arch: Arch) -> Arch:
        inner, hyperparameters = self.split(arch)
        return self.join(self.space.canonical(inner), hyperparameters)

    def format(self, arch: Arch) -> str:
        """The inner text form, then `` hp.lr=...,hp.batch_size=...`` (if any)."""
        inner, hyperparameters = self.split(arch)
        text = self.space.format(inner)
        if hyperparameters:
            text += " " + str(Arch({PREFIX + k: v for k, v in hyperparameters.items()}))
        return text

    def parse(self, text: str) -> Arch:
        """Read what `format` writes, or the plain Arch text form."""
        stripped = text.strip()
        head, sep, tail = stripped.rpartition(" ")
        if sep and tail.startswith(PREFIX):
            inner = self.space.parse(head)
            return self.validate(Arch({**inner, **Arch.parse(tail)}))
        return super().parse(stripped)

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        inner, _ = self.split(arch)
        return self.space.build(inner, input_shape, num_classes)

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        self.space.check_input(input_shape)


def hyperparameters_of(space: SearchSpace, arch: Arch) -> dict[str, Hyperparameter]:
    """The hyperparameters `arch` chooses; ``{}`` for a space without hyperparameters."""
    if isinstance(space, WithHyperparameters):
        return space.split(arch)[1]
    return {}


def _floats(
    name: str, values: Sequence[Hyperparameter], minimum: float, inclusive: bool = True
) -> tuple[float, ...]:
    bound = f">= {minimum}" if inclusive else f"> {minimum}"
    result = []
    for value in values:
        number = float(value) if _is_number(value) else math.nan
        if not math.isfinite(number) or number < minimum or (not inclusive and number == minimum):
            raise SpaceError(f"hyperparameter {name} needs finite numbers {bound}, not {value!r}")
        result.append(number)
    return tuple(result)


def _batch_sizes(values: Sequence[Hyperparameter]) -> tuple[int, ...]:
    for value in values:
        if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1):
            raise SpaceError(f"hyperparameter batch_size needs integers >= 1, not {value!r}")
    return tuple(int(value) for value in values)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
