"""`SearchSpace`: what can be built, as a list of labelled categorical decisions.

Every generic operation a strategy needs (sample, mutate, crossover, neighbors, encode,
enumerate) is derived here from the decisions alone; a space overrides one where it knows
better (for example, `canonical` for cells whose graphs can be isomorphic).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.picture import ArchPicture


@dataclass(frozen=True)
class Decision:
    """One labelled categorical choice of a search space."""

    label: str
    choices: tuple[Choice, ...]

    def __post_init__(self) -> None:
        if len(self.choices) == 0:
            raise SpaceError(f"decision {self.label!r} has no choices")
        if len(set(self.choices)) != len(self.choices):
            raise SpaceError(f"decision {self.label!r} lists a choice twice")

    def index(self, choice: Choice) -> int:
        for position, candidate in enumerate(self.choices):
            if candidate == choice and type(candidate) is type(choice):
                return position
        options = ", ".join(str(c) for c in self.choices)
        raise ArchError(f"{choice!r} is not a choice of {self.label!r}; expected one of {options}")


def active_misfit(space: str, missing: Sequence[str], inactive: Sequence[str]) -> ArchError:
    """The error of an arch of a conditional space that lacks decisions it activates
    (`missing`) or holds decisions it leaves inactive (`inactive`)."""
    problems = []
    if missing:
        problems.append("missing active " + ", ".join(missing))
    if inactive:
        problems.append("inactive " + ", ".join(inactive))
    return ArchError(f"arch does not fit space {space!r}: {'; '.join(problems)}")


class SearchSpace(ABC):
    """A search space: decisions, generic operations on them, and a network builder.

    A space is *conditional* if some decisions exist only when others have some value (see
    `nasforge.space.choices.space.ChoiceSpace`): an arch then holds only its active
    decisions. Strategies that model every decision at once bridge the two with `resolve`
    (a choice for every decision -> an arch) and `complete` (an arch -> a choice for every
    decision); strategies that ask one decision at a time use `sample_with`. On an
    unconditional space all three are trivial (the defaults here); a space that sets
    `conditional` overrides them, with `validate` and the generic operations below.
    """

    name: str = "space"
    conditional: bool = False
    """True if some decisions are inactive in some archs (archs hold the active ones only)."""

    @property
    @abstractmethod
    def decisions(self) -> Sequence[Decision]:
        """The decisions, in the order an Arch lists them."""

    # -- validation and text ---------------------------------------------------
    def validate(self, arch: Arch) -> Arch:
        """Return `arch` if it makes exactly this space's decisions, else raise ArchError."""
        labels = [d.label for d in self.decisions]
        if list(arch) != labels:
            missing = [label for label in labels if label not in arch]
            extra = [label for label in arch if label not in labels]
            if missing or extra:
                problems = []
                if missing:
                    problems.append("missing " + ", ".join(missing))
                if extra:
                    problems.append("unknown " + ", ".join(extra))
                raise ArchError(f"arch does not fit space {self.name!r}: {'; '.join(problems)}")
            arch = Arch({label: arch[label] for label in labels})
        for decision in self.decisions:
            decision.index(arch[decision.label])
        return arch

    # -- conditional decisions: the bridges for strategies that model every decision -------
    def resolve(self, assignment: Mapping[str, Choice]) -> Arch:
        """The arch a choice for every decision gives: the choices of the decisions it
        activates. Here (no conditional decisions) the assignment itself, validated; labels
        that are not decisions are ignored."""
        labels = [d.label for d in self.decisions]
        return self.validate(
            Arch({label: assignment[label] for label in labels if label in assignment})
        )

    def complete(self, arch: Arch) -> dict[str, Choice]:
        """A choice for every decision, in decision order: ``arch``'s own, and a fixed
        default for those it leaves inactive. Here (no conditional decisions) ``arch``."""
        return dict(self.validate(arch))

    def set_choices(self, rows: np.ndarray, choices: Mapping[int, int]) -> np.ndarray | None:
        """Optional batch form of `complete` then `resolve` on archs as rows of choice
        indices (one column per decision, -1 where inactive): each row with decision j set
        to choice k for every ``j: k`` of `choices`, resolved, as such a row. None (here):
        the space has no batch form, and a caller resolves arch by arch."""
        return None

    def sample_with(self, answer: Callable[[Decision], Choice]) -> Arch:
        """The arch whose active decisions ``answer`` chooses, asked one at a time in the
        order the space needs them (define-by-run, as Optuna's ``trial.suggest_*``): here
        every decision, in decision order."""
        return self.validate(Arch({d.label: answer(d) for d in self.decisions}))

    def parse(self, text: str) -> Arch:
        """Read an arch of this space from its text form (`str(arch)`) or by the name of a
        published architecture (`named_architectures`)."""
        named = self.named_architectures()
        if text.strip() in named:
            return self.validate(named[text.strip()])
        return self.validate(Arch.parse(text))

    def pictures(self, arch: Arch) -> tuple[ArchPicture, ...]:
        """What `arch` looks like (`nasforge.space.picture`): its cells as graphs or its
        chain of blocks, for drawers in the terminal and the report. None by default: the
        arch is then drawn as its list of decisions."""
        return ()

    def structure_features(self, arch: Arch) -> Mapping[str, float]:
        """Named numbers about `arch` beyond its choices (for a cell: which paths from input
        to output are live, `nasforge.space.cell_paths`), which surrogates such as
        `nasforge.analysis` fit beside the choices. None by default."""
        return {}

    def structure_summaries(self) -> tuple[str, ...]:
        """The names of the few `structure_features` that sum up an arch as a whole (for a
        cell: whether any path is live, how many, how deep the deepest), which
        `nasforge.analysis` fits linearly before its trees see the rest. None by default."""
        return ()

    def named_architectures(self) -> Mapping[str, Arch]:
        """Published architectures of this space by name (``DARTS_V2``, ``efficientnet-b0``):
        every command that takes an arch accepts these names. None by default."""
        return {}

    def named_space_options(self, name: str) -> Mapping[str, Any] | None:
        """The space options a published architecture needs (EfficientNet-B3's scaling,
        NASNet's five nodes), None if `name` needs none or is not one."""
        return None

    def derive(self, weights: Mapping[str, Sequence[float]]) -> Arch | None:
        """The arch a gradient method reads off its architecture weights (label -> one
        probability per choice) when the space has a rule of its own (the darts space:
        DARTS's two strongest edges per node); None by default: each decision's argmax."""
        return None

    def format(self, arch: Arch) -> str:
        """The text users know this space's archs by; the Arch text form by default."""
        return str(arch)

    # -- generic operations ----------------------------------------------------
    def size(self) -> int:
        return int(np.prod([len(d.choices) for d in self.decisions], dtype=np.int64))

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random arch."""
        return Arch({d.label: d.choices[int(rng.integers(len(d.choices)))] for d in self.decisions})

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Change one decision (picked uniformly among those with >1 choice) to another choice."""
        mutable = [d for d in self.decisions if len(d.choices) > 1]
        if not mutable:
            return arch
        decision = mutable[int(rng.integers(len(mutable)))]
        current = decision.index(arch[decision.label])
        offset = 1 + int(rng.integers(len(decision.choices) - 1))
        new_choice = decision.choices[(current + offset) % len(decision.choices)]
        return arch.replace(**{decision.label: new_choice})

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """Uniform crossover: each decision is taken from either parent with equal chance."""
        take_first = rng.random(len(self.decisions)) < 0.5
        return Arch(
            {
                d.label: (first if pick else second)[d.label]
                for d, pick in zip(self.decisions, take_first, strict=True)
            }
        )

    def neighbors(self, arch: Arch) -> list[Arch]:
        """Every arch that differs from `arch` in exactly one decision, in decision order; in
        a conditional space, one active decision changed (`resolve` gives the decisions the
        change activates their first choice and drops those it deactivates)."""
        if self.conditional:
            return self._conditional_neighbors(self.validate(arch))
        result = []
        for decision in self.decisions:
            for choice in decision.choices:
                if choice != arch[decision.label]:
                    result.append(arch.replace(**{decision.label: choice}))
        return result

    def _conditional_neighbors(self, arch: Arch) -> list[Arch]:
        result: list[Arch] = []
        seen = {arch}
        for decision in self.decisions:
            if decision.label not in arch:
                continue
            for choice in decision.choices:
                if choice == arch[decision.label]:
                    continue
                neighbor = self.resolve({**arch, decision.label: choice})
                if neighbor not in seen:
                    seen.add(neighbor)
                    result.append(neighbor)
        return result

    def encode(self, arch: Arch) -> np.ndarray:
        """One-hot encoding: the concatenated one-hot vectors of every decision (all zeros
        for a decision a conditional space leaves inactive)."""
        if self.conditional:
            arch = self.validate(arch)
        parts = []
        for decision in self.decisions:
            one_hot = np.zeros(len(decision.choices), dtype=np.float32)
            if decision.label in arch:
                one_hot[decision.index(arch[decision.label])] = 1.0
            parts.append(one_hot)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def enumerate(self) -> Iterator[Arch]:
        """Every arch of the space, in the order of a grid over the decisions."""
        labels = [d.label for d in self.decisions]
        for combo in itertools.product(*(d.choices for d in self.decisions)):
            yield Arch(dict(zip(labels, combo, strict=True)))

    def canonical(self, arch: Arch) -> Arch:
        """The representative of the archs that compute the same function as `arch`."""
        return self.validate(arch)

    # -- building ----------------------------------------------------------------
    @abstractmethod
    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        """The plain PyTorch network of `arch` for inputs of `input_shape` (no batch axis).

        The network has nothing of the search left in it.
        """

    # -- one-shot ----------------------------------------------------------------
    def op_decisions(self) -> tuple[Decision, ...]:
        """The decisions that choose an operation: the ones a supernet turns into mixed ops.

        A space lists them explicitly (nothing is inferred from the choices' values); the
        default is none, so a space of widths, depths or hyperparameters has no supernet.
        """
        return ()

    def supernet(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> nn.Module:
        """The network holding every candidate op of every op choice, for one-shot methods.

        ``affine`` and ``track_running_stats`` configure the BatchNorm of the candidate ops;
        ``partial_channels=K`` sends only 1/K of the channels through them (PC-DARTS).
        """
        if not self.op_decisions():
            labels = ", ".join(d.label for d in self.decisions) or "none"
            raise SpaceError(
                f"space {self.name!r} has no op choices (its decisions are {labels}), "
                "so it has no supernet for one-shot methods"
            )
        raise SpaceError(f"space {self.name!r} has op choices but does not build a supernet")

    def check_input(self, input_shape: tuple[int, ...]) -> None:  # noqa: B027 - optional hook
        """Raise SpaceError if this space cannot build networks for `input_shape`."""

    def input_resolution(self, input_shape: tuple[int, ...]) -> int | None:
        """The side of the images its networks see for inputs of `input_shape` (a space
        that resizes its inputs overrides this); None for inputs that are not images."""
        return int(input_shape[1]) if len(input_shape) == 3 else None

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this space with `make_space(name, **config)`."""
        return {}
