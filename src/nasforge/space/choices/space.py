"""`ChoiceSpace`: a search space defined by an ``nn.Module`` class that asks for its choices.

``ChoiceSpace(Net)`` wraps a class whose ``__init__(self, choices, ...)`` asks `Choices` for
labelled choices (see `nasforge.space.choices`). The space finds its decisions by running the
constructor on the meta device (no memory, no initialization): once with every first choice,
then once more for every other choice of every decision found, with the rest of that run's
choices kept. A decision missing from some run is *conditional*. This finds a decision that
depends on one other decision at a time, nested to any depth (a kernel inside a candidate
module inside a block of a repeat); a decision that appears only under a combination of two
independent choices is found when an arch activates it, and then raises `SpaceError`.

Without conditional decisions every operation of `SearchSpace` applies unchanged. With them,
an arch holds exactly the active decisions: `sample`, `mutate`, `crossover`, `neighbors`,
`validate` and `enumerate` run the constructor (on the meta device) with a policy that
answers each decision as it is asked, so a decision that becomes active gets a choice (drawn
from the generator, taken from a parent, or the first one for `neighbors`) and one that
becomes inactive is dropped. `encode` gives an inactive decision an all-zero one-hot block.

``build(arch)`` runs the constructor in child mode: a plain network, nothing of the search in
it. ``supernet()`` gives a `ChoiceSuperNet`. Decisions must not depend on the input shape or
the number of classes (the constructor receives them if it has parameters of those names).
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision, SearchSpace, active_misfit
from nasforge.space.choices.decision import ChoiceDecision
from nasforge.space.choices.policies import (
    Policy,
    first_choice,
    first_or,
    given_or,
    random_policy,
)
from nasforge.space.choices.primitives import Choices, _Run

if TYPE_CHECKING:
    from nasforge.space.choices.supernet import ChoiceSuperNet

MAX_DISCOVERY_RUNS = 20_000
_CACHE_SIZE = 4096
_PATHS_SIZE = 50_000
"""The most path steps `ChoiceSpace` remembers (a few hundred bytes each); then it starts over."""
_Path = tuple[tuple[str, str, Choice], ...]
"""The answers of a run so far: (label, type name, choice) in the order asked."""


class ChoiceSpace(SearchSpace):
    """The search space of ``model`` (an ``nn.Module`` class taking ``choices``); ``params``
    are passed to its constructor unchanged."""

    def __init__(
        self,
        model: type[nn.Module],
        /,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        **params: Any,
    ) -> None:
        if not (isinstance(model, type) and issubclass(model, nn.Module)):
            raise SpaceError(f"a choice space needs an nn.Module class, not {model!r}")
        self.model = model
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.params = params
        self.name = model.__name__
        self._decisions: tuple[ChoiceDecision, ...] = ()
        self._by_label: dict[str, ChoiceDecision] = {}
        self._validated: dict[Arch, Arch] = {}
        self._size: int | None = None
        self._next: dict[_Path, ChoiceDecision | None] = {}
        self._decisions = self._discover()
        self._by_label = {d.label: d for d in self._decisions}
        self.conditional = any(d.conditional for d in self._decisions)

    @property
    def decisions(self) -> Sequence[ChoiceDecision]:
        return self._decisions

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its caches (remembered paths, validated archs): a worker process
        rebuilds them as it goes."""
        return {**self.__dict__, "_next": {}, "_validated": {}}

    def config(self) -> dict[str, Any]:
        return dict(self.params)

    # -- running the constructor -----------------------------------------------------------
    def construct(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
    ) -> nn.Module:
        """``model(choices, **params)``, with ``input_shape`` and ``num_classes`` if its
        constructor takes them; an error in the constructor is one line naming the space."""
        kwargs = dict(self.params)
        parameters = inspect.signature(self.model).parameters
        if "input_shape" in parameters:
            kwargs["input_shape"] = tuple(input_shape or self.input_shape)
        if "num_classes" in parameters:
            kwargs["num_classes"] = self.num_classes if num_classes is None else num_classes
        try:
            return self.model(choices, **kwargs)
        except (SpaceError, ArchError):
            raise
        except Exception as exc:
            raise SpaceError(
                f"space {self.name!r}: {self.model.__name__}(choices) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _trace(self, policy: Policy) -> _Run:
        """The decisions (and choices) one run of the constructor asks, on the meta device.

        The constructor asks its next decision as a function of the answers so far, so the
        runs seen are kept as paths (`_next`: answers so far -> the next decision asked, None
        at the end): a run whose answers follow a known path asks ``policy`` the same
        decisions in the same order without running the constructor (a thousand times
        faster). At the first answer off the known paths the constructor runs, the answers
        given so far replayed to it, so ``policy`` is asked each decision once either way."""
        path: _Path = ()
        run = _Run(known=self._by_label)
        while path in self._next:
            decision = self._next[path]
            if decision is None:
                return run
            choice = policy(decision)
            run.asked[decision.label] = decision
            run.chosen[decision.label] = choice
            path = (*path, _step(decision.label, choice))
        answers = list(run.chosen.values())
        calls = [0]

        def replayed(decision: ChoiceDecision) -> Choice:
            calls[0] += 1
            return answers[calls[0] - 1] if calls[0] <= len(answers) else policy(decision)

        choices = Choices("trace", policy=replayed, known=self._by_label)
        with torch.device("meta"):
            self.construct(choices)
        self._remember(choices.run_)
        return choices.run_

    def _remember(self, run: _Run) -> None:
        """Add the path of ``run`` to `_next`."""
        if len(self._next) >= _PATHS_SIZE:
            self._next.clear()
        path: _Path = ()
        for label, decision in run.asked.items():
            self._next[path] = decision
            path = (*path, _step(label, run.chosen[label]))
        self._next[path] = None

    def _discover(self) -> tuple[ChoiceDecision, ...]:
        order: list[str] = []
        found: dict[str, ChoiceDecision] = {}
        asked_sets: list[set[str]] = []
        tried: set[str] = set()
        queue: deque[dict[str, Choice]] = deque([{}])
        while queue:
            if len(asked_sets) >= MAX_DISCOVERY_RUNS:
                raise SpaceError(
                    f"space {self.name!r}: more than {MAX_DISCOVERY_RUNS} constructor runs to "
                    "find its decisions"
                )
            base = queue.popleft()
            choices = Choices("trace", policy=first_or(base), known=found)
            with torch.device("meta"):
                self.construct(choices)
            run = choices.run_
            asked_sets.append(set(run.asked))
            _merge_order(order, list(run.asked))
            for label, decision in run.asked.items():
                found.setdefault(label, decision)
                if label in tried:
                    continue
                tried.add(label)
                for choice in decision.choices:
                    if choice != run.chosen[label] or type(choice) is not type(run.chosen[label]):
                        queue.append({**run.chosen, label: choice})
        if not order:
            raise SpaceError(
                f"space {self.name!r}: {self.model.__name__} asks for no choices; call "
                "choices.choose_module/choose_value/choose_inputs/repeat in its __init__"
            )
        return tuple(
            ChoiceDecision(
                label,
                found[label].choices,
                kind=found[label].kind,
                conditional=not all(label in asked for asked in asked_sets),
            )
            for label in order
        )

    def _resolve(self, policy: Policy) -> Arch:
        """The arch of the decisions one run asks, answered by ``policy``, in decision order."""
        return self._resolve_run(policy)[0]

    def _resolve_run(self, policy: Policy) -> tuple[Arch, _Run]:
        run = self._trace(policy)
        unknown = [label for label in run.asked if label not in self._by_label]
        if unknown:
            raise SpaceError(
                f"space {self.name!r}: decision(s) {', '.join(unknown)} appeared that discovery "
                "did not find (a decision may depend on one other decision at a time)"
            )
        arch = Arch({d.label: run.chosen[d.label] for d in self._decisions if d.label in run.asked})
        if len(self._validated) >= _CACHE_SIZE:
            self._validated.clear()
        self._validated[arch] = arch  # valid by construction: exactly the decisions asked
        return arch, run

    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        """The arch an assignment gives: its choices for the decisions they activate, the
        first choice for an activated decision it lacks, nothing for the others. Strategies
        that draw one choice for every decision (a controller, a model over all decisions)
        turn their draw into an arch of this space with it."""
        given = {
            label: self._by_label[label].choices[self._by_label[label].index(choice)]
            for label, choice in assignment.items()
            if label in self._by_label
        }
        return self._resolve(given_or(given, first_choice))

    def complete(self, arch: Arch) -> dict[str, Choice]:
        """A choice for every decision: ``arch``'s, and the first choice of the decisions it
        leaves inactive (for strategies whose models need every decision; `resolve` maps
        such an assignment back)."""
        arch = self.validate(arch)
        return {
            d.label: arch[d.label] if d.label in arch else d.choices[0] for d in self._decisions
        }

    def sample_with(self, answer: Policy) -> Arch:
        """The arch whose active decisions ``answer`` chooses, asked in the order the
        constructor asks them (define-by-run: e.g. ``lambda d: trial.suggest_categorical(
        d.label, d.choices)`` lets an Optuna sampler see only the active decisions).

        ``answer`` may be called while the constructor runs under ``torch.device("meta")``:
        tensors it makes need an explicit device."""
        return self.validate(self._resolve(answer))

    # -- validation --------------------------------------------------------------------
    def validate(self, arch: Arch) -> Arch:
        """``arch`` in decision order if it holds exactly the decisions it activates."""
        if not self.conditional:
            return super().validate(arch)
        cached = self._validated.get(arch)
        if cached is not None:
            return cached
        unknown = [label for label in arch if label not in self._by_label]
        if unknown:
            raise ArchError(f"arch does not fit space {self.name!r}: unknown {', '.join(unknown)}")
        missing: list[str] = []

        def policy(decision: ChoiceDecision) -> Choice:
            if decision.label in arch:
                return decision.choices[decision.index(arch[decision.label])]
            missing.append(decision.label)
            return decision.choices[0]

        result = self._resolve(policy)
        inactive = [label for label in arch if label not in result]
        if missing or inactive:
            raise active_misfit(self.name, missing, inactive)
        if len(self._validated) >= _CACHE_SIZE:
            self._validated.clear()
        self._validated[arch] = result
        return result

    # -- generic operations, for conditional decisions -------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        if not self.conditional:
            return super().sample(rng)
        return self._resolve(random_policy(rng))

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Change one active decision (with >1 choice) to another choice; decisions it
        activates are drawn at random, those it deactivates dropped."""
        if not self.conditional:
            return super().mutate(arch, rng)
        arch = self.validate(arch)
        mutable = [d for d in self._decisions if d.label in arch and len(d.choices) > 1]
        if not mutable:
            return arch
        decision = mutable[int(rng.integers(len(mutable)))]
        current = decision.index(arch[decision.label])
        offset = 1 + int(rng.integers(len(decision.choices) - 1))
        changed = {
            **arch,
            decision.label: decision.choices[(current + offset) % len(decision.choices)],
        }
        return self._resolve(given_or(changed, random_policy(rng)))

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """Each active decision from either parent with equal chance (from the one that has
        it if only one does; drawn at random if neither does)."""
        if not self.conditional:
            return super().crossover(first, second, rng)
        fallback = random_policy(rng)

        def policy(decision: ChoiceDecision) -> Choice:
            label = decision.label
            pick, other = (first, second) if rng.random() < 0.5 else (second, first)
            for parent in (pick, other):
                if label in parent:
                    return parent[label]
            return fallback(decision)

        return self._resolve(policy)

    def enumerate(self) -> Iterator[Arch]:
        """Every arch, depth first over the decisions in the order they are asked (one
        constructor run per arch)."""
        if not self.conditional:
            yield from super().enumerate()
            return
        count = 0
        stack: list[dict[str, Choice]] = [{}]
        while stack:
            forced = stack.pop()
            arch, run = self._resolve_run(given_or(forced, first_choice))
            yield arch
            count += 1
            branches: list[dict[str, Choice]] = []
            prefix: dict[str, Choice] = {}
            for label, decision in run.asked.items():
                if label not in forced:
                    branches += [{**prefix, label: c} for c in decision.choices[1:]]
                prefix[label] = run.chosen[label]
            stack.extend(reversed(branches))
        self._size = count

    def size(self) -> int:
        """The number of archs (counted by enumeration when decisions are conditional)."""
        if not self.conditional:
            return super().size()
        if self._size is None:
            self._size = sum(1 for _ in self.enumerate())
        return self._size

    # -- building ------------------------------------------------------------------------
    def build(
        self, arch: Arch, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> nn.Module:
        """The plain network of ``arch`` (nothing of the search left in it)."""
        return self.build_with_record(arch, input_shape, num_classes)[0]

    def build_with_record(
        self, arch: Arch, input_shape: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> tuple[nn.Module, _Run]:
        """`build`, with the record of the run (which modules came from module choices)."""
        arch = self.validate(arch)
        choices = Choices("child", policy=lambda d: arch[d.label], known=self._by_label)
        model = self.construct(choices, input_shape, num_classes)
        for module in model.modules():
            if any(isinstance(value, Choices) for value in vars(module).values()):
                raise SpaceError(
                    f"space {self.name!r}: {type(module).__name__} keeps the choices object; "
                    "ask for choices in __init__ and do not store it"
                )
        return model, choices.run_

    def op_decisions(self) -> tuple[Decision, ...]:
        """Module and input choices: what a supernet mixes or samples."""
        return tuple(d for d in self._decisions if d.kind in ("module", "inputs"))

    def supernet(
        self,
        input_shape: tuple[int, ...] | None = None,
        num_classes: int | None = None,
        *,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> ChoiceSuperNet:
        """The `ChoiceSuperNet` of this space: ``affine`` and ``track_running_stats``
        configure the BatchNorm layers inside module choices' candidates (the others are the
        model's own); ``partial_channels=K`` runs 1/K of the channels through the module
        choices asked with ``partial=True`` (PC-DARTS)."""
        from nasforge.space.choices.supernet import ChoiceSuperNet

        return ChoiceSuperNet(
            self,
            self.input_shape if input_shape is None else input_shape,
            self.num_classes if num_classes is None else num_classes,
            affine=affine,
            track_running_stats=track_running_stats,
            partial_channels=partial_channels,
        )

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        """Raise SpaceError if the first-choice child fails on inputs of ``input_shape``
        (checked on the meta device: no memory, no compute)."""
        arch = self._resolve(first_choice)
        choices = Choices("trace", policy=lambda d: arch[d.label], known=self._by_label)
        with torch.device("meta"):
            model = self.construct(choices, input_shape)
            try:
                model(torch.zeros(2, *input_shape))
            except Exception as exc:
                raise SpaceError(
                    f"space {self.name!r} does not run on input shape {tuple(input_shape)}: "
                    f"{type(exc).__name__}: {exc}"
                ) from None


def _step(label: str, choice: Choice) -> tuple[str, str, Choice]:
    """One answer of a path; the type name keeps ``True`` and ``1`` apart."""
    return (label, type(choice).__name__, choice)


def _merge_order(order: list[str], asked: list[str]) -> None:
    """Insert the labels of ``asked`` that ``order`` lacks right after their predecessor in
    ``asked`` (so a conditional decision sits beside the decisions asked around it)."""
    position = 0
    for label in asked:
        if label in order:
            position = order.index(label) + 1
        else:
            order.insert(position, label)
            position += 1
