"""Joint search of hyperparameters and architecture: hyperparameters as decisions.

`WithHyperparameters` wraps a space and adds the decisions ``hp.lr``, ``hp.weight_decay`` and
``hp.batch_size`` after the inner ones, so that every strategy searches both at once::

    space = WithHyperparameters(NB201Space(), lr=(0.01, 0.1), weight_decay=None)
    [d.label for d in space.decisions][-2:]  # ['hp.lr', 'hp.batch_size']
    inner_arch, hyperparameters = space.split(arch)  # ..., {'lr': 0.1, 'batch_size': 64}

Its text form is the inner space's text form, a space, then the hyperparameters::

    |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...| hp.lr=0.1,hp.batch_size=64

A conditional inner space (an arch holds its active decisions only, see
`nasforge.space.choices.space`) makes this one conditional too: validation, sampling,
mutation, crossover, neighbors, encodings, enumeration and the bridges `resolve`,
`complete` and `sample_with` then hand the inner decisions to the inner space's own
operators and treat the hyperparameters (always active) as the base class does. Over an
unconditional space the base class's operators run unchanged (the same draws as before).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
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
        self._hp_decisions = tuple(hp_decisions)
        self._decisions = (*space.decisions, *hp_decisions)
        self.conditional = space.conditional

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
        inner, _ = self._halves(self.validate(arch))
        hyperparameters: dict[str, Hyperparameter] = {}
        for name in self.choices:
            value = arch[PREFIX + name]
            hyperparameters[name] = int(value) if name == "batch_size" else float(value)
        return inner, hyperparameters

    def join(self, inner: Arch, hyperparameters: Mapping[str, Hyperparameter]) -> Arch:
        """The arch of this space made of an inner arch and its hyperparameters."""
        hp = {PREFIX + name: hyperparameters[name] for name in self.choices}
        return self.validate(Arch({**self.space.validate(inner), **hp}))

    def _halves(self, arch: Arch) -> tuple[Arch, dict[str, Choice]]:
        """The inner decisions of ``arch`` and its ``hp.*`` ones (labels kept), unchecked."""
        hp = {d.label: arch[d.label] for d in self._hp_decisions if d.label in arch}
        return Arch({k: v for k, v in arch.items() if not k.startswith(PREFIX)}), hp

    # -- operators of a conditional inner space ---------------------------------------
    def validate(self, arch: Arch) -> Arch:
        """``arch`` if its inner decisions fit the inner space and it has every
        hyperparameter, in decision order; else ArchError."""
        if not self.conditional:
            return super().validate(arch)
        inner, hp = self._halves(arch)
        unknown = [label for label in arch if label.startswith(PREFIX) and label not in hp]
        missing = [d.label for d in self._hp_decisions if d.label not in hp]
        if unknown or missing:
            problems = [f"unknown {', '.join(unknown)}"] if unknown else []
            problems += [f"missing {', '.join(missing)}"] if missing else []
            raise ArchError(f"arch does not fit space {self.name!r}: {'; '.join(problems)}")
        for decision in self._hp_decisions:
            decision.index(hp[decision.label])
        return Arch({**self.space.validate(inner), **hp})

    def size(self) -> int:
        hp_size = int(np.prod([len(d.choices) for d in self._hp_decisions], dtype=np.int64))
        return self.space.size() * hp_size

    def sample(self, rng: np.random.Generator) -> Arch:
        if not self.conditional:
            return super().sample(rng)
        inner = self.space.sample(rng)
        return Arch({**inner, **{d.label: _draw(d, rng) for d in self._hp_decisions}})

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """One decision changed, picked uniformly among the active ones with >1 choice: an
        inner one through the inner space's `mutate`, else a hyperparameter."""
        if not self.conditional:
            return super().mutate(arch, rng)
        inner, hp = self._halves(self.validate(arch))
        inner_mutable = sum(
            1 for d in self.space.decisions if d.label in inner and len(d.choices) > 1
        )
        hp_mutable = [d for d in self._hp_decisions if len(d.choices) > 1]
        if inner_mutable + len(hp_mutable) == 0:
            return arch
        pick = int(rng.integers(inner_mutable + len(hp_mutable)))
        if pick < inner_mutable:
            return Arch({**self.space.mutate(inner, rng), **hp})
        decision = hp_mutable[pick - inner_mutable]
        current = decision.index(hp[decision.label])
        offset = 1 + int(rng.integers(len(decision.choices) - 1))
        hp[decision.label] = decision.choices[(current + offset) % len(decision.choices)]
        return Arch({**inner, **hp})

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """The inner space's crossover of the inner halves; each hyperparameter from either
        parent with equal chance."""
        if not self.conditional:
            return super().crossover(first, second, rng)
        first_inner, first_hp = self._halves(self.validate(first))
        second_inner, second_hp = self._halves(self.validate(second))
        inner = self.space.crossover(first_inner, second_inner, rng)
        take_first = rng.random(len(self._hp_decisions)) < 0.5
        hp = {
            d.label: (first_hp if pick else second_hp)[d.label]
            for d, pick in zip(self._hp_decisions, take_first, strict=True)
        }
        return Arch({**inner, **hp})

    def neighbors(self, arch: Arch) -> list[Arch]:
        """The inner space's neighbors (same hyperparameters), then one hyperparameter
        changed."""
        if not self.conditional:
            return super().neighbors(arch)
        inner, hp = self._halves(self.validate(arch))
        result = [Arch({**neighbor, **hp}) for neighbor in self.space.neighbors(inner)]
        for decision in self._hp_decisions:
            for choice in decision.choices:
                if choice != hp[decision.label]:
                    result.append(Arch({**inner, **hp, decision.label: choice}))
        return result

    def encode(self, arch: Arch) -> np.ndarray:
        """The inner space's encoding, then one one-hot block per hyperparameter."""
        if not self.conditional:
            return super().encode(arch)
        inner, hp = self._halves(self.validate(arch))
        parts = [self.space.encode(inner)]
        for decision in self._hp_decisions:
            one_hot = np.zeros(len(decision.choices), dtype=np.float32)
            one_hot[decision.index(hp[decision.label])] = 1.0
            parts.append(one_hot)
        return np.concatenate(parts)

    def enumerate(self) -> Iterator[Arch]:
        """The inner archs in the inner space's order, each with every combination of
        hyperparameters."""
        if not self.conditional:
            yield from super().enumerate()
            return
        labels = [d.label for d in self._hp_decisions]
        combos = list(itertools.product(*(d.choices for d in self._hp_decisions)))
        for inner in self.space.enumerate():
            for combo in combos:
                yield Arch({**inner, **dict(zip(labels, combo, strict=True))})

    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        if not self.conditional:
            return super().resolve(assignment)
        inner = self.space.resolve(
            {k: v for k, v in assignment.items() if not k.startswith(PREFIX)}
        )
        hp = {d.label: assignment[d.label] for d in self._hp_decisions if d.label in assignment}
        return self.validate(Arch({**inner, **hp}))

    def complete(self, arch: Arch) -> dict[str, Choice]:
        if not self.conditional:
            return super().complete(arch)
        inner, hp = self._halves(self.validate(arch))
        return {**self.space.complete(inner), **hp}

    def sample_with(self, answer: Callable[[Decision], Choice]) -> Arch:
        if not self.conditional:
            return super().sample_with(answer)
        inner = self.space.sample_with(answer)
        return self.validate(Arch({**inner, **{d.label: answer(d) for d in self._hp_decisions}}))

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


def _draw(decision: Decision, rng: np.random.Generator) -> Choice:
    return decision.choices[int(rng.integers(len(decision.choices)))]


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
