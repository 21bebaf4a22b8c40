"""Choice primitives: a model's constructor asks for its choices by label (define-by-run).

A search space is an ordinary ``nn.Module`` class whose ``__init__`` takes a `Choices`
object and asks it for every choice, as Optuna's ``trial.suggest_*``::

    class Net(nn.Module):
        def __init__(self, choices: Choices) -> None:
            super().__init__()
            width = choices.choose_value("width", [16, 32])
            self.conv = choices.choose_module(
                "op", {"conv3": lambda: nn.Conv2d(3, width, 3, padding=1),
                       "conv5": lambda: nn.Conv2d(3, width, 5, padding=2)})

The primitives: `Choices.choose_module` (one of several candidate modules, built by
factories so that only the chosen one is built in a child), `Choices.choose_value` (a width,
kernel, expansion ...), `Choices.choose_inputs` (which k of n earlier nodes feed a node),
`Choices.repeat` (a stack whose depth is a choice) and `Choices.when` (is an earlier value
choice one of some values: a conditional branch). A label is the decision an Arch stores; a
label asked twice is one shared decision (with the same candidates, else `SpaceError`). A
decision asked only inside a branch (a candidate module, a block of a repeat beyond the
smallest depth, an ``if``) is conditional: it exists only when the branch is active.

The same constructor runs in three modes (`ChoiceSpace` and `ChoiceSuperNet` drive them):

- *child*: every primitive returns the chosen thing (the chosen module itself, the value,
  a parameter-free `ChosenInputs`, an ``nn.Sequential`` of ``depth`` blocks), so the network
  has nothing of the search left in it;
- *trace*: a child built on the meta device (no memory, no initialization) to find which
  decisions an assignment activates;
- *supernet*: module choices become `MixedModule` (all candidates), input choices
  `MixedInputs`; value choices take the values of a given assignment (the supernet keeps
  the one at the largest values, see `nasforge.space.choices.supernet`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from torch import nn

from nasforge.arch import Choice
from nasforge.errors import SpaceError
from nasforge.space.choices.decision import ChoiceDecision, Kind, largest
from nasforge.space.choices.inputs import ChosenInputs, MixedInputs, Reduction
from nasforge.space.choices.mixed import MixedModule
from nasforge.space.choices.mode import SuperMode

V = TypeVar("V", str, int, float, bool)

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")


@dataclass
class _Run:
    """The record of one constructor run: decisions in the order asked, and the choices."""

    asked: dict[str, ChoiceDecision] = field(default_factory=dict)
    chosen: dict[str, Choice] = field(default_factory=dict)
    known: Mapping[str, ChoiceDecision] = field(default_factory=dict)
    # the modules a child got from choose_module: id(module) -> chosen candidate name
    chosen_modules: dict[int, str] = field(default_factory=dict)
    # every module choose_module returned: id(module) -> (label, how many came before it)
    occurrences: dict[int, tuple[str, int]] = field(default_factory=dict)
    # those modules, kept alive so that their ids stay theirs (a dropped `Zero` is freed)
    modules: list[nn.Module] = field(default_factory=list)
    # occurrences of a label a child left out on purpose (`Choices.skip_occurrences`)
    skipped: dict[str, int] = field(default_factory=dict)


class Choices:
    """The object a space's constructor asks for its choices (see the module docstring).

    Users never build one: `ChoiceSpace` passes it to the constructor as ``choices``.
    """

    def __init__(
        self,
        mode: Literal["child", "trace", "supernet"],
        *,
        policy: Callable[[ChoiceDecision], Choice] | None = None,
        values: Mapping[str, Choice] | None = None,
        super_mode: SuperMode | None = None,
        known: Mapping[str, ChoiceDecision] | None = None,
    ) -> None:
        self._mode = mode
        self._policy = policy
        self._values = dict(values or {})
        self._super_mode = super_mode
        self.run_ = _Run(known=dict(known or {}))

    @property
    def mode(self) -> str:
        """``"child"``, ``"trace"`` or ``"supernet"``."""
        return self._mode

    @property
    def super_mode(self) -> SuperMode | None:
        """The shared mode of a supernet's forward passes (None outside supernet mode)."""
        return self._super_mode

    def partial(self, channels: int) -> int:
        """The channels the candidates of a ``partial=True`` module choice are built for:
        ``channels // K`` in a supernet with partial channels ``K`` (PC-DARTS), else
        ``channels``."""
        k = 1 if self._super_mode is None else self._super_mode.partial_channels
        if channels % k:
            raise SpaceError(f"partial_channels must divide channels={channels}, not {k}")
        return channels // k

    # -- the primitives ------------------------------------------------------------------
    def choose_module(
        self,
        label: str,
        candidates: Mapping[str, Callable[[], nn.Module]]
        | Mapping[int, Callable[[], nn.Module]]
        | Mapping[bool, Callable[[], nn.Module]],
        *,
        partial: bool = False,
        share: nn.Module | None = None,
        inherits: tuple[str, int] | None = None,
    ) -> nn.Module:
        """One of ``candidates`` (name -> factory of a module). A child gets the chosen
        module itself; a supernet a `MixedModule` of all of them. Candidates are named by
        strings, or by numbers or booleans (a kernel size, SE on or off) when the decision
        is one a space lists with such choices. Decisions asked inside a factory exist only
        when that candidate is chosen. ``partial=True`` (PC-DARTS):
        candidates map ``C`` channels (axis 1) to ``C`` and are built for
        ``choices.partial(C)`` of them; a supernet with partial channels runs only those
        through the candidates. A `Zero` candidate stands for "no connection".

        ``share``: an earlier module choice of this network on the same input, with the same
        candidate names, whose candidates this one reuses in a supernet (a child still gets
        its own module). Both choices keep their own decision and weights; a forward pass
        runs each shared candidate once per input.

        ``inherits=(label, n)``: in a child, the module takes the supernet's weights of the
        ``n``-th module choice of ``label`` (by default the ``n``-th of its own label), for
        a supernet that asks other decisions than its child: the darts supernet has one op
        choice per edge, its child one per slot."""
        for name, factory in candidates.items():
            if isinstance(factory, nn.Module) or not callable(factory):
                raise SpaceError(
                    f"choice {label!r}: candidate {name!r} must be a factory such as "
                    "lambda: nn.Conv2d(...), not a module"
                )
        factories: dict[Choice, Callable[[], nn.Module]] = dict(candidates.items())
        if len({str(name) for name in factories}) < len(factories):
            raise SpaceError(f"choice {label!r}: two candidates have the same name as text")
        decision = self._decision(label, "module", tuple(factories))
        if self._mode == "supernet":
            assert self._super_mode is not None
            built = (
                _shared_candidates(label, share, factories)
                if share is not None
                else {
                    str(name): _module(label, str(name), factory())
                    for name, factory in factories.items()
                }
            )
            mixed = MixedModule(decision.label, built, self._super_mode, partial=partial)
            if isinstance(share, MixedModule):
                mixed.sharers = share.sharers
                mixed.sharers[0] += 1
            self._occurred(label, mixed)
            return mixed
        chosen = self._choose(decision)
        module = _module(label, str(chosen), factories[chosen]())
        self.run_.chosen_modules[id(module)] = str(chosen)
        self._occurred(label, module)
        if inherits is not None:
            self.run_.occurrences[id(module)] = (inherits[0], int(inherits[1]))
        return module

    def choose_value(self, label: str, values: Sequence[V]) -> V:
        """One of ``values`` (strings, integers, floats or booleans). A supernet shares
        weights across numeric values by slicing the largest (see `ChoiceSuperNet`); strings
        are categories, built at the first value (they must not change which weights exist)."""
        decision = self._decision(label, "value", tuple(values))
        return self._choose(decision)  # type: ignore[return-value]

    def choose_inputs(
        self, label: str, n_candidates: int, k: int = 1, reduction: Reduction = "sum"
    ) -> nn.Module:
        """Which ``k`` of ``n_candidates`` inputs feed a node: a module called on the list of
        the candidate tensors that returns the ``reduction`` ("sum" or "mean") of the chosen
        ones. Its choices: the index for ``k == 1``, else the indices as ``"0+2"``."""
        if not (isinstance(n_candidates, int) and isinstance(k, int) and 1 <= k <= n_candidates):
            raise SpaceError(
                f"choice {label!r}: choose_inputs needs 1 <= k <= n_candidates, "
                f"not k={k!r}, n_candidates={n_candidates!r}"
            )
        if reduction not in ("sum", "mean"):
            raise SpaceError(f"choice {label!r}: reduction must be 'sum' or 'mean'")
        combos = list(itertools.combinations(range(n_candidates), k))
        names: tuple[Choice, ...] = (
            tuple(c[0] for c in combos) if k == 1 else tuple(_combo_name(c) for c in combos)
        )
        decision = self._decision(label, "inputs", names)
        if self._mode == "supernet":
            assert self._super_mode is not None
            return MixedInputs(decision.label, combos, reduction, self._super_mode)
        return ChosenInputs(combos[names.index(self._choose(decision))], reduction)

    def repeat(
        self, label: str, depths: Sequence[int], block: Callable[[int], nn.Module]
    ) -> nn.Module:
        """``nn.Sequential(block(0), ..., block(depth - 1))`` with ``depth`` one of
        ``depths``; decisions asked by ``block(i)`` exist only when ``depth > i``."""
        if not depths or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in depths
        ):
            raise SpaceError(
                f"choice {label!r}: repeat depths must be integers >= 0, not {list(depths)}"
            )
        depth = int(self._choose(self._decision(label, "repeat", tuple(depths))))
        return nn.Sequential(*(_module(label, str(i), block(i)) for i in range(depth)))

    def when(self, label: str, *values: Choice) -> bool:
        """Whether the value choice ``label`` (asked before) is one of ``values``: the
        condition of a branch whose decisions exist only when it holds."""
        decision = self.run_.asked.get(label)
        if decision is None or decision.kind not in ("value", "repeat"):
            raise SpaceError(
                f"condition on {label!r}: ask choose_value({label!r}, ...) or repeat before "
                "when(); conditions on module choices go inside their factories"
            )
        if not any(_same(v, c) for v in values for c in decision.choices):
            raise SpaceError(
                f"condition {label!r} in {list(values)} never holds: its choices are "
                f"{list(decision.choices)}"
            )
        chosen = self.run_.chosen[label]
        return any(_same(chosen, v) for v in values)

    def skip_occurrences(self, label: str, count: int) -> None:
        """Count `count` occurrences of module choice `label` that this network does not
        build. A child inherits the supernet's weights of a label's n-th module choice; a
        network whose supernet asks a label once per candidate input while its child asks
        it once, for the chosen input, skips the others so that positions match."""
        if count < 0:
            raise SpaceError(f"skip_occurrences({label!r}, {count}): count must be >= 0")
        self.run_.skipped[label] = self.run_.skipped.get(label, 0) + count

    # -- internals -------------------------------------------------------------------
    def _occurred(self, label: str, module: nn.Module) -> None:
        count = sum(1 for other, _ in self.run_.occurrences.values() if other == label)
        count += self.run_.skipped.get(label, 0)
        self.run_.occurrences[id(module)] = (label, count)
        self.run_.modules.append(module)

    def _decision(self, label: str, kind: Kind, choices: tuple[Choice, ...]) -> ChoiceDecision:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise SpaceError(
                f"invalid choice label {label!r}: use letters, digits and _ . : / - "
                "starting with a letter or _"
            )
        if not choices:
            raise SpaceError(f"choice {label!r} has no candidates")
        for choice in choices:
            if not isinstance(choice, (str, int, float, bool)):
                raise SpaceError(
                    f"choice {label!r}: candidates must be strings, integers, floats or "
                    f"booleans, not {type(choice).__name__}"
                )
        decision = ChoiceDecision(label, choices, kind=kind)
        earlier = self.run_.asked.get(label) or self.run_.known.get(label)
        if earlier is not None and (
            earlier.kind != kind or not _same_choices(earlier.choices, choices)
        ):
            raise SpaceError(
                f"label {label!r} is used for two different choices: {earlier.kind} "
                f"{list(earlier.choices)} and {kind} {list(choices)}; one label is one decision"
            )
        self.run_.asked.setdefault(label, decision)
        return self.run_.asked[label]

    def _choose(self, decision: ChoiceDecision) -> Choice:
        label = decision.label
        if label in self.run_.chosen:
            return self.run_.chosen[label]
        if self._mode == "supernet":
            chosen = self._values.get(label, largest(decision))
        else:
            assert self._policy is not None
            chosen = self._policy(decision)
        self.run_.chosen[label] = chosen
        return chosen


def fixed_choices(answers: Mapping[str, Choice]) -> Choices:
    """A child's choices answered from ``answers`` (label -> choice)."""
    return Choices("child", policy=lambda decision: answers[decision.label])


def _shared_candidates(
    label: str, share: nn.Module, factories: Mapping[Choice, Callable[[], nn.Module]]
) -> dict[str, nn.Module]:
    """The candidates of ``share`` (a supernet's module choice), checked to be the ones
    ``factories`` names."""
    names = [str(name) for name in factories]
    if not isinstance(share, MixedModule) or list(share.names) != names:
        raise SpaceError(
            f"choice {label!r}: share= must be a module choice of this supernet with the "
            f"candidates {names}"
        )
    return {name: share.candidates[name] for name in names}


def _module(label: str, name: str, module: object) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise SpaceError(
            f"choice {label!r}: candidate {name!r} built a {type(module).__name__}, "
            "not an nn.Module"
        )
    return module


def _combo_name(combo: tuple[int, ...]) -> str:
    return "+".join(str(i) for i in combo)


def _same(a: Choice, b: Choice) -> bool:
    return a == b and type(a) is type(b)


def _same_choices(a: tuple[Choice, ...], b: tuple[Choice, ...]) -> bool:
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
