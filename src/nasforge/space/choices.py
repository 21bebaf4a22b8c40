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
  the one at the largest values, see `nasforge.space.choice_supernet`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Choice
from nasforge.errors import SpaceError
from nasforge.space.base import Decision

Kind = Literal["module", "value", "inputs", "repeat"]
Reduction = Literal["sum", "mean"]
V = TypeVar("V", str, int, float, bool)

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")


@dataclass(frozen=True)
class ChoiceDecision(Decision):
    """A decision found by running a model's constructor: its kind, and whether it is
    conditional (inactive under some assignments of the other decisions)."""

    kind: Kind = "value"
    conditional: bool = False


@dataclass
class SuperMode:
    """How a supernet runs its next forward passes; shared by all its mixed modules.

    ``weights`` maps a label to one weight per candidate (mixed mode, DARTS); ``path`` maps a
    label to the index of its chosen candidate (single path: SPOS, ENAS, GDAS with
    ``weights`` as the hard one-hot scale)."""

    weights: dict[str, torch.Tensor] | None = None
    path: dict[str, int] | None = None
    add_unselected: bool = False
    # set while the supernet is built: candidates' BatchNorm options, partial channels
    batchnorm: dict[str, bool] | None = None
    partial_channels: int = 1
    # during a forward pass: id(input) -> (input, its ReLU), shared by the candidates
    shared: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None
    # during a forward pass: (id(candidate), id(input)) -> [input, output, uses left], for
    # candidates that module choices share (`Choices.choose_module(..., share=...)`); an
    # entry goes once every sharer has used it, so no-grad passes free outputs early
    outputs: dict[tuple[int, int], list[Any]] | None = None

    def chosen(self, label: str) -> int | None:
        """The index a single path takes for ``label``, or None if the next forward pass
        runs no path through it (mixed mode, or a path over other decisions). A supernet
        whose own decisions differ from its space's (the darts space's per-edge op
        choices) reads the space's decisions of an arch's path this way."""
        return None if self.path is None else self.path.get(label)


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


class Zero(nn.Module):
    """A candidate that outputs zeros shaped like its input, or like its input subsampled
    by ``stride`` ("no connection": NB201's and DARTS's ``none``); a supernet skips it
    instead of adding zeros."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[..., :: self.stride, :: self.stride])


class MixedModule(nn.Module):
    """A module choice in a supernet: every candidate, run as the shared `SuperMode` says
    (weighted sum of all, or the chosen one, optionally scaled by its weight).

    Speed, with no code of the space's own: `Zero` candidates are skipped; candidates that
    are an ``nn.Sequential`` starting with ``nn.ReLU`` share one ReLU of each input within a
    forward pass (all the choices fed by one tensor); ``AvgPool2d(3, 1, 1,
    count_include_pad=False)`` runs as `box_average_3x3`; with ``partial`` and partial
    channels ``K``, only the first ``C/K`` channels go through the candidates, the rest
    around them, then the channels are shuffled (PC-DARTS). The supernet's ``batchnorm``
    options (affine, track_running_stats) replace the candidates' BatchNorm layers."""

    def __init__(
        self,
        label: str,
        candidates: Mapping[str, nn.Module],
        mode: SuperMode,
        *,
        partial: bool = False,
    ) -> None:
        super().__init__()
        self.label = label
        self.names = tuple(candidates)
        if mode.batchnorm is not None:
            for module in candidates.values():
                _replace_batchnorm(module, mode.batchnorm)
        self.candidates = nn.ModuleDict(candidates)
        self.mode = mode
        self.partial = partial and mode.partial_channels > 1
        self.sharers = [1]  # how many module choices hold these candidates (one list for all)
        self._runners = [_runner(module) for module in candidates.values()]

    def _run(
        self, index: int, x: torch.Tensor, source: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor | None:
        """Candidate ``index`` on ``x`` (the part of ``source`` it sees); None for zeros."""
        kind = self._runners[index][0]
        if kind == "zero":
            return None
        outputs = self.mode.outputs
        if self.sharers[0] == 1 or outputs is None or args or kw:
            return self._compute(index, x, source, args, kw)
        key = (id(self.candidates[self.names[index]]), id(source))
        hit = outputs.get(key)
        if hit is not None and hit[0] is source:
            hit[2] -= 1
            if hit[2] == 0:
                del outputs[key]
            out: torch.Tensor = hit[1]
            return out
        computed = self._compute(index, x, source, args, kw)
        outputs[key] = [source, computed, self.sharers[0] - 1]
        return computed

    def _compute(
        self, index: int, x: torch.Tensor, source: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor:
        kind, tail = self._runners[index]
        if kind == "relu" and not args and not kw:
            return _sequence(tail, self._relu(source, x))
        if kind == "box" and not args and not kw:
            return _sequence(tail, box_average_3x3(x))
        out: torch.Tensor = self.candidates[self.names[index]](x, *args, **kw)
        return out

    def _relu(self, source: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shared = self.mode.shared
        if shared is None:
            return torch.relu(x)
        hit = shared.get(id(source))
        if hit is not None and hit[0] is source:
            return hit[1]
        value = torch.relu(x)
        shared[id(source)] = (source, value)
        return value

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        part = self._part(x)
        return self._finish(part, x, self._mixed(part, x, args, kwargs))

    def run_one(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Candidate ``name`` alone on ``x``, unscaled, with partial channels as in
        `forward`: the single path of a supernet that runs archs of its space's decisions
        rather than of its own (the darts space's slots over its per-edge op choices)."""
        part = self._part(x)
        return self._finish(part, x, self._run(self.names.index(name), part, x, (), {}))

    def _part(self, x: torch.Tensor) -> torch.Tensor:
        """The channels the candidates see: with partial channels, a dense copy of the
        first ``C/K`` (oneDNN's convolution backward corrupted memory on such a slice of a
        channels-last tensor when a strided 1x1 convolution of 2 channels took it: torch
        2.13, CPU)."""
        if not self.partial:
            return x
        part = x[:, : x.shape[1] // self.mode.partial_channels]
        if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return part.contiguous(memory_format=torch.channels_last)
        return part.contiguous()

    def _finish(
        self, part: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None
    ) -> torch.Tensor:
        """The candidates' output ``out`` (None: all zeros), and with partial channels the
        bypassed channels beside it, max-pooled 2x2 where the candidates halve the
        resolution (PC-DARTS's reduction edges), shuffled."""
        through = self._zeros(part) if out is None else out
        if not self.partial:
            return through
        rest = x[:, part.shape[1] :]
        if rest.shape[-2:] != through.shape[-2:]:
            rest = F.max_pool2d(rest, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([through, rest], dim=1), self.mode.partial_channels)

    def _zeros(self, part: torch.Tensor) -> torch.Tensor:
        for index, (kind, _) in enumerate(self._runners):
            if kind == "zero":
                zero: torch.Tensor = self.candidates[self.names[index]](part)
                return zero
        return torch.zeros_like(part)

    def _mixed(
        self, part: torch.Tensor, x: torch.Tensor, args: tuple[Any, ...], kw: Any
    ) -> torch.Tensor | None:
        mode = self.mode
        weights = None if mode.weights is None else mode.weights.get(self.label)
        if mode.path is not None and self.label in mode.path:
            index = mode.path[self.label]
            out = self._run(index, part, x, args, kw)
            if out is not None and weights is not None:
                out = weights[index] * out
            if weights is not None and mode.add_unselected:
                unselected = weights.sum() - weights[index]
                out = unselected.expand_as(part) if out is None else out + unselected
            return out
        if weights is None:
            raise SpaceError(f"supernet has no weights and no path for choice {self.label!r}")
        total: torch.Tensor | None = None
        for index in range(len(self.names)):
            out = self._run(index, part, x, args, kw)
            if out is not None:
                term = weights[index] * out
                total = term if total is None else total + term
        return total


Runner = tuple[str, tuple[nn.Module, ...]]


def _runner(module: nn.Module) -> Runner:
    """How `MixedModule` runs a candidate: "zero", "relu" (then the rest of a Sequential
    after its ReLU), "box" (3x3 average pooling as a box filter, then the rest of a
    Sequential that starts with it: DARTS's pool + BatchNorm in search) or "plain"."""
    if isinstance(module, Zero):
        return "zero", ()
    if isinstance(module, nn.Sequential) and len(module) > 0 and _is_box(module[0]):
        return "box", tuple(module)[1:]
    if (
        isinstance(module, nn.Sequential)
        and len(module) > 0
        and type(module[0]) is nn.ReLU
        and not module[0].inplace
    ):
        return "relu", tuple(module)[1:]
    if _is_box(module):
        return "box", ()
    return "plain", ()


def _is_box(module: nn.Module) -> bool:
    """``AvgPool2d(3, stride=1, padding=1, count_include_pad=False)``, which
    `box_average_3x3` computes faster."""
    return (
        type(module) is nn.AvgPool2d
        and module.kernel_size in (3, (3, 3))
        and module.stride in (1, (1, 1))
        and module.padding in (1, (1, 1))
        and not module.count_include_pad
        and not module.ceil_mode
        and module.divisor_override is None
    )


def _sequence(modules: tuple[nn.Module, ...], x: torch.Tensor) -> torch.Tensor:
    for module in modules:
        x = module(x)
    return x


def _replace_batchnorm(module: nn.Module, options: Mapping[str, bool]) -> None:
    """Rebuild the BatchNorm layers inside ``module`` with ``options`` (affine,
    track_running_stats), keeping their size, eps and momentum."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            wanted = {key: options.get(key, getattr(child, key)) for key in _BN_OPTIONS}
            if any(getattr(child, key) != value for key, value in wanted.items()):
                replaced = type(child)(
                    child.num_features, eps=child.eps, momentum=child.momentum, **wanted
                )
                setattr(module, name, replaced)
        else:
            _replace_batchnorm(child, options)


_BN_OPTIONS = ("affine", "track_running_stats")


def box_average_3x3(x: torch.Tensor) -> torch.Tensor:
    """``AvgPool2d(3, stride=1, padding=1, count_include_pad=False)`` computed as a
    depthwise convolution with a kernel of ones divided by the number of pixels each window
    covers: the same sums in the same order (bit-identical on the machines we tested), about
    3x faster on CPU, where average pooling is the slowest op of the DARTS supernet."""
    channels, (height, width) = x.shape[1], x.shape[-2:]
    ones = x.new_ones(channels, 1, 3, 3)
    counts = F.conv2d(x.new_ones(1, 1, height, width), ones[:1], padding=1)
    return F.conv2d(x, ones, padding=1, groups=channels) / counts


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave ``groups`` blocks of channels (ShuffleNet; PC-DARTS after a partial edge)."""
    n, c = x.shape[:2]
    return x.view(n, groups, c // groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


class ChosenInputs(nn.Module):
    """The chosen inputs of a node, reduced (a plain module with no parameters)."""

    def __init__(self, indices: Sequence[int], reduction: Reduction = "sum") -> None:
        super().__init__()
        self.indices = tuple(indices)
        self.reduction = reduction

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return _reduce([inputs[i] for i in self.indices], self.reduction)

    def extra_repr(self) -> str:
        return f"indices={list(self.indices)}, reduction={self.reduction}"


class MixedInputs(nn.Module):
    """An input choice in a supernet: the weighted sum over every k-subset of the inputs,
    or the chosen subset."""

    def __init__(
        self, label: str, combos: Sequence[tuple[int, ...]], reduction: Reduction, mode: SuperMode
    ) -> None:
        super().__init__()
        self.label = label
        self.combos = tuple(combos)
        self.reduction = reduction
        self.mode = mode

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        mode = self.mode
        weights = None if mode.weights is None else mode.weights.get(self.label)
        if mode.path is not None and self.label in mode.path:
            index = mode.path[self.label]
            out = _reduce([inputs[i] for i in self.combos[index]], self.reduction)
            return out if weights is None else weights[index] * out
        if weights is None:
            raise SpaceError(f"supernet has no weights and no path for choice {self.label!r}")
        total: torch.Tensor | None = None
        for index, combo in enumerate(self.combos):
            term = weights[index] * _reduce([inputs[i] for i in combo], self.reduction)
            total = term if total is None else total + term
        assert total is not None
        return total


def _reduce(tensors: list[torch.Tensor], reduction: Reduction) -> torch.Tensor:
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total / len(tensors) if reduction == "mean" else total


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
