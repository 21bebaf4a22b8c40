"""A space as a store or a model folder records it: decisions and their conditions, no code.

An experiment of a user's space (`nasforge.space.loading`) keeps the space's *description*
beside its spec: every decision with its choices and kind, and for a conditional space the
condition under which each decision is active. `RecordedSpace` rebuilds from that
description everything that reading a store needs (text forms, validation, encodings,
uniform samples, the bridges `resolve`/`complete` that decision importance uses) without
importing the file the spec names: a store or a saved model shared with a colleague runs no
code when they look at it. Building a network needs the code, so `RecordedSpace.build`
refuses with the way to give consent (`nasforge.space.stored`).

A condition reads "active when decision PARENT is active and holds one of CHOICES" (one
parent per decision, nested to any depth: what define-by-run discovery finds). It is
derived from the live space when the experiment is created, by looking at which decisions
appear in a few hundred of its archs, and kept only if it then reproduces the active
decisions of every arch looked at and of fresh samples; otherwise the description says the
conditions are unknown and a reader that needs them says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision, SearchSpace, active_misfit

if TYPE_CHECKING:
    from torch import nn

RECORD_VERSION = 1
_EVIDENCE_SAMPLES = 256
_CHECK_SAMPLES = 256
_SEED = 20261207


@dataclass(frozen=True)
class Condition:
    """Decision `parent` is active and holds one of `choices`."""

    parent: str
    choices: tuple[Choice, ...]

    def holds(self, active: Mapping[str, Choice]) -> bool:
        if self.parent not in active:
            return False
        value = active[self.parent]
        return any(value == c and type(value) is type(c) for c in self.choices)


@dataclass(frozen=True)
class RecordedDecision(Decision):
    """A decision as recorded: its kind (``value``, ``module``, ``inputs``, ...) and whether
    some archs leave it inactive."""

    kind: str = "value"
    conditional: bool = False


# -- writing the description ---------------------------------------------------------------


def describe_space(space: SearchSpace) -> dict[str, Any]:
    """The JSON description of `space` that `RecordedSpace` reads back: its name, its
    decisions and (for a conditional space) their conditions or ``null`` if no one-parent
    rule reproduces them."""
    decisions = [
        {
            "label": d.label,
            "choices": list(d.choices),
            "kind": str(getattr(d, "kind", "value")),
            "conditional": bool(getattr(d, "conditional", False)),
        }
        for d in space.decisions
    ]
    description: dict[str, Any] = {
        "version": RECORD_VERSION,
        "name": space.name,
        "decisions": decisions,
        "conditional": bool(space.conditional),
    }
    if space.conditional:
        conditions = derive_conditions(space)
        description["conditions"] = (
            None
            if conditions is None
            else {
                label: {"parent": c.parent, "choices": list(c.choices)}
                for label, c in conditions.items()
            }
        )
    return description


def derive_conditions(space: SearchSpace) -> dict[str, Condition] | None:
    """For each decision that some archs leave inactive, the one-parent condition that
    explains when it is active, derived from archs of `space` and checked on fresh ones;
    None if no such rule reproduces them all."""
    rng = np.random.default_rng(_SEED)
    evidence = _evidence(space, rng)
    labels = [d.label for d in space.decisions]
    always = [label for label in labels if all(label in arch for arch in evidence)]
    conditions: dict[str, Condition] = {}
    for position, label in enumerate(labels):
        if label in always:
            continue
        condition = _explaining_condition(label, labels[:position], space, evidence)
        if condition is None:
            return None
        conditions[label] = condition
    recorded = RecordedSpace(
        space.name,
        [RecordedDecision(d.label, tuple(d.choices)) for d in space.decisions],
        conditions=conditions,
        conditional=True,
    )
    check = [space.sample(rng) for _ in range(_CHECK_SAMPLES)]
    for arch in [*evidence, *check]:
        if recorded.resolve(space.complete(arch)) != arch:
            return None
    return conditions


def _evidence(space: SearchSpace, rng: np.random.Generator) -> list[Arch]:
    """Random archs and every neighbour of the first few: each decision seen with each of
    its choices, next to archs that differ from it in one decision."""
    samples = [space.sample(rng) for _ in range(_EVIDENCE_SAMPLES)]
    seen = set(samples)
    archs = list(samples)
    for arch in samples[:8]:
        for neighbor in space.neighbors(arch):
            if neighbor not in seen:
                seen.add(neighbor)
                archs.append(neighbor)
    return archs


def _explaining_condition(
    label: str, before: Sequence[str], space: SearchSpace, evidence: Sequence[Arch]
) -> Condition | None:
    """The nearest earlier decision whose presence and value explain when `label` is active
    in every arch of `evidence`."""
    by_label = {d.label: d for d in space.decisions}
    for parent in reversed(before):
        if any(label in arch and parent not in arch for arch in evidence):
            continue
        activating = {_key(arch[parent]) for arch in evidence if label in arch}
        explains = all(
            (label in arch) == (_key(arch[parent]) in activating)
            for arch in evidence
            if parent in arch
        )
        if explains and activating:
            choices = tuple(c for c in by_label[parent].choices if _key(c) in activating)
            return Condition(parent, choices)
    return None


def _key(choice: Choice) -> tuple[str, Choice]:
    return (type(choice).__name__, choice)


# -- reading it back -------------------------------------------------------------------------


class RecordedSpace(SearchSpace):
    """A space rebuilt from its recorded description: every operation on decisions, no
    network (`build` refuses: the code that builds it is not run without consent)."""

    def __init__(
        self,
        name: str,
        decisions: Sequence[RecordedDecision],
        *,
        conditions: Mapping[str, Condition] | None = None,
        conditional: bool = False,
        spec: str | None = None,
    ) -> None:
        self.name = name
        self._decisions = tuple(decisions)
        self.conditional = conditional
        self.conditions_known = conditions is not None or not conditional
        self._conditions = dict(conditions or {})
        self.recorded_spec = spec

    @classmethod
    def from_description(
        cls, description: Mapping[str, Any], *, spec: str | None = None
    ) -> RecordedSpace:
        """The space `describe_space` described (a `SpaceError` names a malformed field)."""
        try:
            decisions = [
                RecordedDecision(
                    str(d["label"]),
                    tuple(_choice(c) for c in d["choices"]),
                    kind=str(d.get("kind", "value")),
                    conditional=bool(d.get("conditional", False)),
                )
                for d in description["decisions"]
            ]
            conditional = bool(description.get("conditional", False))
            raw = description.get("conditions") if conditional else {}
            conditions = (
                None
                if raw is None
                else {
                    str(label): Condition(str(c["parent"]), tuple(_choice(v) for v in c["choices"]))
                    for label, c in dict(raw).items()
                }
            )
            name = str(description["name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SpaceError(f"the recorded description of the space is malformed: {exc}") from None
        return cls(name, decisions, conditions=conditions, conditional=conditional, spec=spec)

    @property
    def decisions(self) -> Sequence[RecordedDecision]:
        return self._decisions

    # -- which decisions are active --------------------------------------------------------
    def _require_conditions(self) -> None:
        if not self.conditions_known:
            raise SpaceError(
                f"space {self.name!r}: the store records its decisions but not when each is "
                "active (no one-parent rule explained them), so this needs the space's code"
            )

    def _active(self, assignment: Mapping[str, Choice]) -> Arch:
        """The arch an assignment gives: in decision order, each decision whose condition
        holds among the decisions taken before it."""
        taken: dict[str, Choice] = {}
        for decision in self._decisions:
            condition = self._conditions.get(decision.label)
            if condition is not None and not condition.holds(taken):
                continue
            value = assignment.get(decision.label, decision.choices[0])
            taken[decision.label] = decision.choices[decision.index(value)]
        return Arch(taken)

    def validate(self, arch: Arch) -> Arch:
        if not self.conditional:
            return super().validate(arch)
        self._require_conditions()
        known = {d.label for d in self._decisions}
        unknown = [label for label in arch if label not in known]
        if unknown:
            raise ArchError(f"arch does not fit space {self.name!r}: unknown {', '.join(unknown)}")
        result = self._active(arch)
        missing = [label for label in result if label not in arch]
        inactive = [label for label in arch if label not in result]
        if missing or inactive:
            raise active_misfit(self.name, missing, inactive)
        return result

    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        if not self.conditional:
            return super().resolve(assignment)
        self._require_conditions()
        return self._active(assignment)

    def complete(self, arch: Arch) -> dict[str, Choice]:
        if not self.conditional:
            return super().complete(arch)
        arch = self.validate(arch)
        return {
            d.label: arch[d.label] if d.label in arch else d.choices[0] for d in self._decisions
        }

    def sample(self, rng: np.random.Generator) -> Arch:
        """Uniform choices for the active decisions, drawn in decision order (the draws a
        `ChoiceSpace` makes with the same generator)."""
        if not self.conditional:
            return super().sample(rng)
        self._require_conditions()
        taken: dict[str, Choice] = {}
        for decision in self._decisions:
            condition = self._conditions.get(decision.label)
            if condition is None or condition.holds(taken):
                taken[decision.label] = decision.choices[int(rng.integers(len(decision.choices)))]
        return Arch(taken)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        if not self.conditional:
            return super().mutate(arch, rng)
        arch = self.validate(arch)
        mutable = [d for d in self._decisions if d.label in arch and len(d.choices) > 1]
        if not mutable:
            return arch
        decision = mutable[int(rng.integers(len(mutable)))]
        offset = 1 + int(rng.integers(len(decision.choices) - 1))
        changed = decision.choices[
            (decision.index(arch[decision.label]) + offset) % len(decision.choices)
        ]
        drawn = {
            d.label: d.choices[int(rng.integers(len(d.choices)))]
            for d in self._decisions
            if d.label not in arch
        }
        return self._active({**drawn, **arch, decision.label: changed})

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        if not self.conditional:
            return super().crossover(first, second, rng)
        assignment: dict[str, Choice] = {}
        for decision in self._decisions:
            pick, other = (first, second) if rng.random() < 0.5 else (second, first)
            parent = pick if decision.label in pick else other
            if decision.label in parent:
                assignment[decision.label] = parent[decision.label]
        return self.resolve(assignment)

    def enumerate(self) -> Iterator[Arch]:
        if not self.conditional:
            yield from super().enumerate()
            return
        seen: set[Arch] = set()
        for arch in super().enumerate():
            active = self._active(arch)
            if active not in seen:
                seen.add(active)
                yield active

    def size(self) -> int:
        if not self.conditional:
            return super().size()
        return sum(1 for _ in self.enumerate())

    def op_decisions(self) -> tuple[Decision, ...]:
        return tuple(d for d in self._decisions if d.kind in ("module", "inputs"))

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        where = self.recorded_spec or self.name
        raise SpaceError(
            f"space {where!r} is your own code, and the store or folder records only its "
            "decisions: building a network imports that code, so name it with --space "
            "PATH.py:CLASS or allow the recorded one with --trust-space-code"
        )


def _choice(value: Any) -> Choice:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"choice {value!r} is not a string, number or boolean")
