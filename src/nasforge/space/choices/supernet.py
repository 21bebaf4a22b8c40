"""`ChoiceSuperNet`: the supernet of a `ChoiceSpace`, with no code of the space's own.

The space's constructor runs in supernet mode: every module choice becomes a `MixedModule`
holding all its candidates, every input choice a `MixedInputs`, and every value choice
(widths, kernels, depths of a repeat) takes its largest value. That network, ``self.net``,
holds all the weights. As in once-for-all and AutoFormer, smaller values share them: for an
assignment of the value choices, the constructor runs again on the meta device (structure
only, cached per assignment) and that structure runs with every parameter and buffer of
``self.net`` sliced to its shape (the leading part of each axis; convolution kernels keep
their centre, so a 3x3 kernel is the middle of a 5x5 one), through
``torch.func.functional_call``; BatchNorm statistics update the slices in place.

Weights are shared by name: a module must have the same qualified name at every value (use
`Choices.repeat` for depth, attributes or fixed slots for optional layers). A parameter that
a smaller value makes larger, or that does not exist at the largest values, is a
`SpaceError` naming it.

It is the one supernet of the one-shot methods (`nasforge.oneshot.supernet`), with one
vector of architecture weights per decision (decisions have different numbers of choices):

- ``use_weights({label: w})``: module and input choices sum their candidates weighted by
  ``w`` (DARTS); value choices take their argmax (weights are shared by slicing, so their
  candidates are not mixed; a missing one takes its largest value);
- ``use_path(arch or {label: index}, weights=None, add_unselected=False)``: one candidate per
  decision (SPOS, ENAS, and GDAS with hard one-hot ``weights`` scaling module and input
  choices);
- ``child(arch)``: `ChoiceSpace.build` with the weights the supernet holds for ``arch``.

``affine`` and ``track_running_stats`` rebuild the BatchNorm layers inside module choices'
candidates; ``partial_channels`` applies to module choices asked with ``partial=True``
(PC-DARTS); the speed tricks of `MixedModule` need nothing of the space.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.choices.decision import ChoiceDecision, largest
from nasforge.space.choices.mixed import MixedModule
from nasforge.space.choices.mode import SuperMode
from nasforge.space.choices.primitives import Choices, _Run
from nasforge.space.choices.space import ChoiceSpace

_STRUCTURE_CACHE = 64
ValueKey = tuple[tuple[str, str, Choice], ...]


class ChoiceSuperNet(nn.Module):
    """Every candidate of every choice of a `ChoiceSpace` (see the module docstring)."""

    def __init__(
        self,
        space: ChoiceSpace,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        affine: bool | None = None,
        track_running_stats: bool | None = None,
        partial_channels: int = 1,
    ) -> None:
        super().__init__()
        if partial_channels < 1:
            raise SpaceError(f"partial_channels must be >= 1, not {partial_channels}")
        self.space = space
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.partial_channels = partial_channels
        self.decisions: tuple[ChoiceDecision, ...] = tuple(space.decisions)
        self.labels = tuple(d.label for d in self.decisions)
        self._by_label = {d.label: d for d in self.decisions}
        self.mixed_labels = tuple(d.label for d in self.decisions if d.kind in ("module", "inputs"))
        self.value_labels = tuple(d.label for d in self.decisions if d.kind in ("value", "repeat"))
        self.largest_values = {label: largest(self._by_label[label]) for label in self.value_labels}
        batchnorm = {"affine": affine, "track_running_stats": track_running_stats}
        self.mode = SuperMode(
            batchnorm={k: v for k, v in batchnorm.items() if v is not None} or None,
            partial_channels=partial_channels,
        )
        run = self._construct_run(self.largest_values)
        self.net = run[0]
        self._mixed_paths = _mixed_paths(self.net, run[1].occurrences)
        # decisions only the supernet asks: a relaxation of the space's decisions (the darts
        # space's per-edge op choices, of which its `derive` reads an arch); the gradient
        # methods weight those, while paths and archs keep the space's decisions
        own = tuple(d for label, d in run[1].asked.items() if label not in self._by_label)
        self.search_decisions: tuple[ChoiceDecision, ...] = own
        if own:
            self._by_label.update((d.label, d) for d in own)
            self.mixed_labels = tuple(d.label for d in own if d.kind in ("module", "inputs"))
        if partial_channels > 1 and not any(
            isinstance(m, MixedModule) and m.partial for m in self.net.modules()
        ):
            raise SpaceError(
                f"space {space.name!r} has no module choice with partial=True, so it does not "
                "support partial channels"
            )
        self._structures: dict[ValueKey, nn.Module] = {}
        self.use_weights(  # uniform mixtures at the largest values
            {
                label: torch.full((size,), 1.0 / size)
                for label, size in self.num_choices.items()
                if label in self.mixed_labels
            }
        )

    def _construct(self, values: Mapping[str, Choice]) -> nn.Module:
        return self._construct_run(values)[0]

    def _construct_run(self, values: Mapping[str, Choice]) -> tuple[nn.Module, _Run]:
        choices = Choices("supernet", values=values, super_mode=self.mode, known=self._by_label)
        return self.space.construct(choices, self.input_shape, self.num_classes), choices.run_

    # -- shapes and modes ------------------------------------------------------------------
    @property
    def num_choices(self) -> dict[str, int]:
        """The length of each decision's architecture weights (the supernet's own
        decisions too, `search_decisions`)."""
        return {label: len(d.choices) for label, d in self._by_label.items()}

    def use_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Mixed mode: module and input choices are weighted sums, value choices argmax.
        Every module and input choice of ``mixed_labels`` needs weights; a value choice
        without takes its largest value."""
        missing = [label for label in self.mixed_labels if label not in weights]
        if missing:
            raise ArchError(f"architecture weights are missing for {', '.join(missing)}")
        self.mode.weights, self.mode.path = self._check_weights(weights), None
        self.mode.add_unselected = False

    def use_path(
        self,
        path: Arch | Mapping[str, int],
        weights: Mapping[str, torch.Tensor] | None = None,
        *,
        add_unselected: bool = False,
    ) -> None:
        """Single-path mode: candidate ``path[label]`` for each decision (an arch's inactive
        decisions are absent and never run), scaled by ``weights[label][index]`` for module
        and input choices if ``weights`` is given."""
        indices = self.path_of(path) if isinstance(path, Arch) else dict(path)
        for label, index in indices.items():
            size = len(self._decision(label).choices)
            if not 0 <= int(index) < size:
                raise ArchError(f"path index {index} of {label!r} is not in [0, {size})")
        if weights is None and add_unselected:
            raise ArchError("add_unselected needs the architecture weights")
        self.mode.weights = None if weights is None else self._check_weights(weights)
        self.mode.path = {label: int(i) for label, i in indices.items()}
        self.mode.add_unselected = add_unselected

    def _check_weights(self, weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        for label, vector in weights.items():
            size = len(self._decision(label).choices)
            if tuple(vector.shape) != (size,):
                raise ArchError(
                    f"architecture weights of {label!r} need shape ({size},), "
                    f"not {tuple(vector.shape)}"
                )
        return dict(weights)

    def _decision(self, label: str) -> ChoiceDecision:
        try:
            return self._by_label[label]
        except KeyError:
            raise ArchError(f"{label!r} is not a decision of space {self.space.name!r}") from None

    # -- arch <-> indices ------------------------------------------------------------------
    def path_of(self, arch: Arch) -> dict[str, int]:
        """The candidate index of each decision ``arch`` holds."""
        arch = self.space.validate(arch)
        return {label: self._by_label[label].index(arch[label]) for label in arch}

    def arch_of(self, path: Mapping[str, int]) -> Arch:
        """The arch of ``path``: its choices for the decisions they activate (a decision
        activated but absent from ``path`` takes its largest value, or its first choice if
        it is a module or input choice)."""
        chosen = {label: self._decision(label).choices[int(i)] for label, i in path.items()}
        return self.space.resolve({**self.largest_values, **chosen})

    def argmax_arch(
        self, alpha: Mapping[str, torch.Tensor], exclude: Sequence[Choice] = ()
    ) -> Arch:
        """The arch of the strongest candidate of each decision (ties: the first), leaving
        out the candidates named in ``exclude`` where another remains."""
        path = {}
        for label, vector in self._check_weights(alpha).items():
            scores = vector.detach().clone()
            choices = self._by_label[label].choices
            masked = [i for i, c in enumerate(choices) if c in exclude]
            if len(masked) < len(choices):
                scores[masked] = -torch.inf
            path[label] = int(scores.argmax())
        return self.arch_of(path)

    # -- forward ---------------------------------------------------------------------------
    def current_values(self) -> dict[str, Choice]:
        """The value choices the next forward pass uses (see the modes)."""
        mode, values = self.mode, dict(self.largest_values)
        for label in self.value_labels:
            choices = self._by_label[label].choices
            if mode.path is not None and label in mode.path:
                values[label] = choices[mode.path[label]]
            elif mode.path is None and mode.weights is not None and label in mode.weights:
                values[label] = choices[int(mode.weights[label].detach().argmax())]
        return values

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        self.mode.shared, self.mode.outputs = {}, {}
        try:
            return self._forward(args, kwargs)
        finally:
            self.mode.shared = self.mode.outputs = None

    def _forward(self, args: tuple[object, ...], kwargs: dict[str, object]) -> torch.Tensor:
        values = self.current_values()
        if values == self.largest_values:
            out: torch.Tensor = self.net(*args, **kwargs)
            return out
        structure = self.structure(values)
        if structure.training != self.training:
            structure.train(self.training)
        _follow_batchnorm(structure, self.net)
        store = _every_name(self.net)
        tensors = {
            name: _shared(store, name, t.shape, self.space.name) for name, t in _tensors(structure)
        }
        result: torch.Tensor = functional_call(structure, tensors, args, kwargs)
        return result

    def structure(self, values: Mapping[str, Choice]) -> nn.Module:
        """The network at ``values`` on the meta device (cached): shapes, no weights."""
        key = tuple((label, type(v).__name__, v) for label, v in sorted(values.items()))
        structure = self._structures.get(key)
        if structure is None:
            with torch.device("meta"):
                structure = self._construct(values)
            if len(self._structures) >= _STRUCTURE_CACHE:
                self._structures.pop(next(iter(self._structures)))
            self._structures[key] = structure
        return structure

    # -- export ----------------------------------------------------------------------------
    def child(self, arch: Arch) -> nn.Module:
        """The plain network of ``arch`` with the weights the supernet holds for it. The
        ``n``-th module a label chooses in the child inherits the candidate of the ``n``-th
        module choice of that label in the supernet; a candidate BatchNorm the supernet
        keeps without affine parameters gives gamma 1 and beta 0, one without running
        statistics leaves the child's fresh ones."""
        if self.partial_channels > 1:
            raise SpaceError(
                f"a supernet with partial_channels={self.partial_channels} has candidates of "
                f"1/{self.partial_channels} of the channels, so a child cannot inherit them; "
                "train space.build(arch) from scratch"
            )
        child, run = self.space.build_with_record(arch, self.input_shape, self.num_classes)
        parameter = next(itertools.chain(self.net.parameters(), self.net.buffers()), None)
        if parameter is not None:
            child.to(parameter.device)
            if parameter.is_floating_point():
                child.to(parameter.dtype)
        renamed: dict[str, str] = {}
        for path, module in child.named_modules(remove_duplicate=False):
            if id(module) in run.chosen_modules:
                occurrence = run.occurrences[id(module)]
                mixed = self._mixed_paths.get(occurrence)
                if mixed is None:
                    raise SpaceError(
                        f"supernet of {self.space.name!r} has no module choice "
                        f"{occurrence[0]!r} number {occurrence[1] + 1} for the child's {path}"
                    )
                renamed[path] = f"{mixed}.candidates.{run.chosen_modules[id(module)]}"
        store = _every_name(self.net)
        batchnorms = {
            path
            for path, module in child.named_modules()
            if isinstance(module, nn.modules.batchnorm._BatchNorm)
        }
        with torch.no_grad():
            for name, tensor in _tensors(child):
                source = store.get(_supernet_name(name, renamed))
                if source is not None:
                    tensor.copy_(slice_to(source, tensor.shape, name))
                    continue
                owner, _, leaf = name.rpartition(".")
                if owner not in batchnorms:
                    raise SpaceError(
                        f"supernet of {self.space.name!r} holds no weights for {name} of the child"
                    )
                if leaf in ("weight", "bias"):  # the supernet's BatchNorm is not affine
                    tensor.fill_(1.0 if leaf == "weight" else 0.0)
        return child


def slice_to(tensor: torch.Tensor, shape: Sequence[int], name: str = "tensor") -> torch.Tensor:
    """The part of ``tensor`` of ``shape``: leading entries of each axis, and the centre of
    the kernel axes (axis 2 on) of tensors with 3 or more axes (convolution weights)."""
    if tuple(tensor.shape) == tuple(shape):
        return tensor
    if len(shape) != tensor.ndim or any(s > t for s, t in zip(shape, tensor.shape, strict=True)):
        raise SpaceError(
            f"{name} has shape {tuple(shape)} at these values but {tuple(tensor.shape)} at the "
            "largest: weights are shared by slicing the largest, so no value may make it larger"
        )
    index: list[slice] = []
    for axis, (size, full) in enumerate(zip(shape, tensor.shape, strict=True)):
        if axis >= 2 and tensor.ndim >= 3:
            if (full - size) % 2:
                raise SpaceError(
                    f"{name}: a kernel of {size} cannot be centred in one of {full}; use kernel "
                    "sizes of one parity"
                )
            start = (full - size) // 2
            index.append(slice(start, start + size))
        else:
            index.append(slice(0, size))
    return tensor[tuple(index)]


def _shared(
    store: Mapping[str, torch.Tensor], name: str, shape: torch.Size, space: str
) -> torch.Tensor:
    if name not in store:
        raise SpaceError(
            f"supernet of {space!r}: {name} does not exist at the largest values, so it "
            "shares no weights; give optional modules the same name at every value"
        )
    return slice_to(store[name], shape, name)


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [*module.named_parameters(), *module.named_buffers()]


def _every_name(module: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of ``module`` under each of its names (module choices that share their
    candidates hold one tensor under two names)."""
    return {
        **dict(module.named_parameters(remove_duplicate=False)),
        **dict(module.named_buffers(remove_duplicate=False)),
    }


def _follow_batchnorm(structure: nn.Module, net: nn.Module) -> None:
    """Give the structure's BatchNorm layers the momentum of the supernet's layers of the same
    name (BatchNorm recalibration sets it to None: a cumulative average)."""
    for name, module in structure.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            try:
                source = net.get_submodule(name)
            except AttributeError:  # no tensors: nothing shared
                continue
            if isinstance(source, nn.modules.batchnorm._BatchNorm):
                module.momentum = source.momentum


def _mixed_paths(
    net: nn.Module, occurrences: Mapping[int, tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """(label, occurrence) -> the qualified name of that module choice in ``net``."""
    return {
        occurrences[id(module)]: path
        for path, module in net.named_modules(remove_duplicate=False)
        if isinstance(module, MixedModule) and id(module) in occurrences
    }


def _supernet_name(name: str, renamed: Mapping[str, str]) -> str:
    """The supernet's name of a child's tensor: under the deepest module the child got from
    a module choice, its path becomes that candidate's in the supernet (``op.weight`` of
    candidate ``conv`` of the choice at ``op`` is ``op.candidates.conv.weight``)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in renamed:
            return ".".join([renamed[prefix], *parts[cut:]])
    return name


def supernet_with_channels(
    space: ChoiceSpace,
    channels: int,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    affine: bool,
    track_running_stats: bool,
    partial_channels: int,
) -> ChoiceSuperNet:
    """The supernet of a network whose cells have `channels` channels (nb201, darts): the
    partial channels K of PC-DARTS must divide them."""
    if partial_channels < 1 or channels % partial_channels:
        raise SpaceError(
            f"partial_channels must be >= 1 and divide channels={channels}, not {partial_channels}"
        )
    return ChoiceSuperNet(
        space,
        input_shape,
        num_classes,
        affine=affine,
        track_running_stats=track_running_stats,
        partial_channels=partial_channels,
    )
