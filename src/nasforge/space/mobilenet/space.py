"""The `mobilenet` space: chains of inverted-residual (MBConv) blocks, as in MnasNet,
ProxylessNAS, once-for-all and EfficientNet.

The network (`nasforge.space.mobilenet.net`): a stem (3x3 convolution, stride 2, 32
channels), seven stages of MBConv blocks with strides 1, 2, 2, 2, 1, 2, 1, and the head of
MobileNetV2/EfficientNet (1x1 convolution to 1,280 channels, global pooling, dropout, linear).
An MBConv block: a 1x1 expansion (none when the expansion is 1), a depthwise k x k
convolution (the stage's stride in its first block), squeeze-and-excitation (squeeze to a
quarter of the block's input channels) if chosen, a 1x1 projection, and a residual when the
shape allows. Decisions::

    activation                      swish | relu6 (the whole network)
    stage{s}_width, stage{s}_depth  per stage: output channels and number of blocks
    stage{s}_block{b}_kernel        3, 5, 7
    stage{s}_block{b}_expand        3, 4, 6 (stage 1 also 1, as MobileNetV2 and EfficientNet)
    stage{s}_block{b}_se            false | true

Blocks at or beyond a stage's depth are inactive: `canonical` gives them the first choices.

Options: ``width_mult`` and ``depth_mult`` scale every width (rounded to a multiple of 8 as
the reference implementations do, `round_channels`) and every depth (rounded up,
`round_depth`), as EfficientNet's compound scaling does; ``resolution`` resizes the input
images to that size first (0: the input's own size); ``kernels``, ``expansions`` and
``widths`` (per stage) give the choices; ``dropout`` before the classifier.

Named architectures: ``mobilenetv2`` and ``efficientnet-b0`` to ``efficientnet-b4``. The first
two name their structure at the space's own scaling (the published networks at the options
of `NAMED_OPTIONS`, e.g. B0 at 224 pixels); B1-B4 need their scaling options
(`named_space_options` gives them; ``nasforge describe`` and ``train`` apply any option the
user did not give).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision
from nasforge.space.choice_network import ChoiceNetworkSpace
from nasforge.space.mobilenet.names import (
    ACTIVATIONS,
    DEFAULT_DEPTHS,
    DEFAULT_WIDTHS,
    EFFICIENTNET_B0,
    HEAD_CHANNELS,
    MIN_RESOLUTION,
    MOBILENET_V2,
    NAMED_OPTIONS,
    STEM_CHANNELS,
    STRIDES,
    block_label,
    depth_label,
    round_channels,
    round_depth,
    width_label,
)
from nasforge.space.picture import ArchPicture, ChainBlock, ChainPicture

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace

_COMPACT_BLOCK = re.compile(r"k(\d+)e(\d+)(se)?")


class MobileNetSpace(ChoiceNetworkSpace):
    """Per stage width and depth, per block kernel, expansion and squeeze-and-excitation."""

    name = "mobilenet"
    trace_input_shape = (3, 32, 32)

    def __init__(
        self,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        resolution: int = 0,
        kernels: Sequence[int] = (3, 5, 7),
        expansions: Sequence[int] = (3, 4, 6),
        widths: Sequence[Sequence[int]] = DEFAULT_WIDTHS,
        depths: Sequence[Sequence[int]] = DEFAULT_DEPTHS,
        dropout: float = 0.2,
    ) -> None:
        if not (width_mult > 0 and depth_mult > 0):
            raise SpaceError(
                f"mobilenet needs width_mult > 0 and depth_mult > 0, not {width_mult} and "
                f"{depth_mult}"
            )
        if resolution and resolution < MIN_RESOLUTION:
            raise SpaceError(
                f"mobilenet resolution {resolution} would leave its last stages with less than "
                f"one pixel; use 0 (the input's size) or at least {MIN_RESOLUTION}"
            )
        if not kernels or any(not _positive_int(k) or k % 2 == 0 for k in kernels):
            raise SpaceError(f"mobilenet kernels must be odd positive integers, not {kernels}")
        if not expansions or any(not _positive_int(e) for e in expansions):
            raise SpaceError(f"mobilenet expansions must be positive integers, not {expansions}")
        if not 0.0 <= dropout < 1.0:
            raise SpaceError(f"dropout must be in [0, 1), not {dropout}")
        for what, per_stage in (("widths", widths), ("depths", depths)):
            if len(per_stage) != len(STRIDES) or any(
                not stage or any(not _positive_int(v) for v in stage) for stage in per_stage
            ):
                raise SpaceError(
                    f"mobilenet {what} must give {len(STRIDES)} stages of positive integers "
                    f"(an empty stage is not allowed), not {[list(s) for s in per_stage]}"
                )
        self.width_mult, self.depth_mult = float(width_mult), float(depth_mult)
        self.resolution, self.dropout = int(resolution), float(dropout)
        self.kernels, self.expansions = tuple(kernels), tuple(expansions)
        self.widths = tuple(tuple(stage) for stage in widths)
        self.depths = tuple(tuple(stage) for stage in depths)
        self.stage_widths = tuple(
            _distinct(round_channels(w * self.width_mult) for w in stage) for stage in self.widths
        )
        self.stage_depths = tuple(
            _distinct(round_depth(d, self.depth_mult) for d in stage) for stage in self.depths
        )
        self.stem_channels = round_channels(STEM_CHANNELS * self.width_mult)
        self.head_channels = round_channels(HEAD_CHANNELS * max(1.0, self.width_mult))
        decisions: list[Decision] = [Decision("activation", ACTIVATIONS)]
        for s, (stage_widths, stage_depths) in enumerate(
            zip(self.stage_widths, self.stage_depths, strict=True), start=1
        ):
            decisions += [
                Decision(width_label(s), stage_widths),
                Decision(depth_label(s), stage_depths),
            ]
            expand = self.block_expansions(s)
            for b in range(max(stage_depths)):
                decisions += [
                    Decision(block_label(s, b, "kernel"), self.kernels),
                    Decision(block_label(s, b, "expand"), expand),
                    Decision(block_label(s, b, "se"), (False, True)),
                ]
        self._decisions = tuple(decisions)
        self._choice_space: ChoiceSpace | None = None

    def block_expansions(self, stage: int) -> tuple[int, ...]:
        """The expansions of a block of `stage` (the first stage also has 1, as MobileNetV2
        and EfficientNet-B0 expand their first block by 1)."""
        return _distinct((1, *self.expansions)) if stage == 1 else self.expansions

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "width_mult": self.width_mult,
            "depth_mult": self.depth_mult,
            "resolution": self.resolution,
            "kernels": list(self.kernels),
            "expansions": list(self.expansions),
            "widths": [list(stage) for stage in self.widths],
            "depths": [list(stage) for stage in self.depths],
            "dropout": self.dropout,
        }

    # -- structure -------------------------------------------------------------------
    def blocks(self, arch: Arch) -> list[BlockSpec]:
        """Every active block, first to last, with its input and output channels."""
        arch = self.validate(arch)
        blocks: list[BlockSpec] = []
        channels = self.stem_channels
        for s, stride in enumerate(STRIDES, start=1):
            width = int(arch[width_label(s)])
            for b in range(int(arch[depth_label(s)])):
                blocks.append(
                    BlockSpec(
                        stage=s,
                        in_channels=channels,
                        out_channels=width,
                        kernel=int(arch[block_label(s, b, "kernel")]),
                        expand=int(arch[block_label(s, b, "expand")]),
                        se=bool(arch[block_label(s, b, "se")]),
                        stride=stride if b == 0 else 1,
                    )
                )
                channels = width
        return blocks

    def canonical(self, arch: Arch) -> Arch:
        """Blocks beyond their stage's depth get the first kernel, expansion and SE choice."""
        arch = self.validate(arch)
        inactive: dict[str, Choice] = {}
        for decision in self._decisions:
            stage, block = _stage_block(decision.label)
            if block is not None and block >= int(arch[depth_label(stage)]):
                inactive[decision.label] = decision.choices[0]
        return arch.replace(**inactive)

    def named_architectures(self) -> Mapping[str, Arch]:
        """MobileNetV2 and EfficientNet-B0 at this space's own scaling (the published nets at
        width and depth 1; a smaller or larger copy of them otherwise), and EfficientNet-B1
        to B4 where these options are theirs."""
        named = {}
        for name, options in NAMED_OPTIONS.items():
            base = name in ("mobilenetv2", "efficientnet-b0")
            if base or all(abs(getattr(self, k) - v) < 1e-9 for k, v in options.items()):
                stages = MOBILENET_V2 if name == "mobilenetv2" else EFFICIENTNET_B0
                activation = "relu6" if name == "mobilenetv2" else "swish"
                arch = self._from_stages(stages, activation, se=name != "mobilenetv2")
                if arch is not None:
                    named[name] = arch
        return named

    def named_space_options(self, name: str) -> dict[str, Any] | None:
        """The options a named architecture needs (None for an unknown name)."""
        return dict(NAMED_OPTIONS[name]) if name in NAMED_OPTIONS else None

    def parse(self, text: str) -> Arch:
        stripped = text.strip()
        if stripped in NAMED_OPTIONS and stripped not in self.named_architectures():
            options = " ".join(f"-s {k}={v}" for k, v in NAMED_OPTIONS[stripped].items())
            raise ArchError(
                f"{stripped} is an arch of the mobilenet space with other options: add "
                f"{options} (and the default kernels, expansions, widths and depths)"
            )
        if "/" in stripped and "=" not in stripped:  # the compact form, not label=choice
            return self.from_compact(stripped)
        return super().parse(stripped)

    def sample(self, rng: np.random.Generator) -> Arch:
        """A uniformly random arch in canonical form (inactive blocks at first choices)."""
        return self.canonical(super().sample(rng))

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A canonical arch one active decision away (a change of an inactive block's
        decision would build the same network: it is drawn again, up to 20 times)."""
        parent = self.canonical(arch)
        child = parent
        for _ in range(20):
            child = self.canonical(super().mutate(parent, rng))
            if child != parent:
                break
        return child

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        return self.canonical(super().crossover(first, second, rng))

    def format(self, arch: Arch) -> str:
        """The compact form of a canonical arch: ``swish/16:k3e1se/24:k3e6se,k3e6se/...``,
        per stage its width and its active blocks (kernel, expansion, ``se`` if
        squeeze-and-excitation). An arch with choices on inactive blocks keeps the full
        text, so that `parse` gives it back unchanged."""
        arch = self.validate(arch)
        if arch != self.canonical(arch):
            return str(arch)
        stages = []
        for s in range(1, len(STRIDES) + 1):
            blocks = ",".join(
                f"k{arch[block_label(s, b, 'kernel')]}e{arch[block_label(s, b, 'expand')]}"
                + ("se" if arch[block_label(s, b, "se")] else "")
                for b in range(int(arch[depth_label(s)]))
            )
            stages.append(f"{arch[width_label(s)]}:{blocks}")
        return "/".join([str(arch["activation"]), *stages])

    def from_compact(self, text: str) -> Arch:
        """Read `format`'s compact form; inactive blocks get the first choices."""
        parts = text.strip().split("/")
        if len(parts) != len(STRIDES) + 1 or parts[0] not in ACTIVATIONS:
            raise ArchError(
                f"malformed mobilenet arch {text[:60]!r}: expected ACTIVATION/ then "
                f"{len(STRIDES)} stages WIDTH:kKeE[se],... separated by '/'"
            )
        values: dict[str, Choice] = {"activation": parts[0]}
        for s, stage in enumerate(parts[1:], start=1):
            width, colon, blocks = stage.partition(":")
            specs = blocks.split(",") if blocks else []
            match = [_COMPACT_BLOCK.fullmatch(spec) for spec in specs]
            if not colon or not width.isdigit() or not specs or not all(match):
                raise ArchError(
                    f"malformed stage {s} {stage!r} of a mobilenet arch: expected "
                    "WIDTH:kKeE[se],... (e.g. 24:k3e6se,k5e3)"
                )
            values[width_label(s)] = int(width)
            values[depth_label(s)] = len(specs)
            for b, found in enumerate(match):
                assert found is not None
                values[block_label(s, b, "kernel")] = int(found.group(1))
                values[block_label(s, b, "expand")] = int(found.group(2))
                values[block_label(s, b, "se")] = bool(found.group(3))
        for decision in self._decisions:
            values.setdefault(decision.label, decision.choices[0])
        ordered = Arch({d.label: values[d.label] for d in self._decisions})
        extra = sorted(set(values) - set(ordered))
        if extra:
            raise ArchError(f"mobilenet arch has blocks beyond the space's depths: {extra[0]}")
        return self.canonical(ordered)

    def _from_stages(
        self, stages: Sequence[tuple[int, int, int, int]], activation: str, *, se: bool
    ) -> Arch | None:
        values: dict[str, Choice] = {"activation": activation}
        for s, (_, _, width, depth) in enumerate(stages, start=1):
            values[width_label(s)] = round_channels(width * self.width_mult)
            values[depth_label(s)] = round_depth(depth, self.depth_mult)
        for decision in self._decisions:
            stage, block = _stage_block(decision.label)
            if block is None:
                continue
            expand, kernel = stages[stage - 1][:2]
            chosen = {"kernel": kernel, "expand": expand, "se": se}
            values[decision.label] = chosen[decision.label.rsplit("_", 1)[1]]
        try:
            return self.canonical(Arch(values))
        except ArchError:
            return None  # other kernels, expansions, widths or depths: not a point here

    def pictures(self, arch: Arch) -> tuple[ArchPicture, ...]:
        blocks = tuple(
            ChainBlock(
                stage=b.stage,
                fields={
                    "expansion": b.expand,
                    "kernel": b.kernel,
                    "se": b.se,
                    "width": b.out_channels,
                    "stride": b.stride,
                },
            )
            for b in self.blocks(arch)
        )
        return (ChainPicture(f"MBConv chain ({arch['activation']})", blocks),)

    # -- networks ----------------------------------------------------------------------
    def input_resolution(self, input_shape: tuple[int, ...]) -> int:
        """The side of the images the network sees: ``resolution`` when set (inputs are
        resized to it), else the inputs' height."""
        self.check_input(input_shape)
        return self.resolution or int(input_shape[1])

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise SpaceError(
                f"space 'mobilenet' needs images (channels, height, width), not input shape "
                f"{tuple(input_shape)}"
            )
        if not self.resolution and min(input_shape[1:]) < MIN_RESOLUTION:
            raise SpaceError(
                f"space 'mobilenet' needs images of at least {MIN_RESOLUTION}x{MIN_RESOLUTION} "
                f"(its last stages would see less than one pixel), not {input_shape[1]}x"
                f"{input_shape[2]}; resize them with -s resolution={MIN_RESOLUTION}"
            )

    def network_class(self) -> type[nn.Module]:
        from nasforge.space.mobilenet.net import MobileNetNetwork

        return MobileNetNetwork

    def op_decisions(self) -> tuple[Decision, ...]:
        """Activation, kernels and SE: the module choices a DARTS-family method mixes
        (widths, depths and expansions are value choices, shared by slicing)."""
        return tuple(
            d
            for d in self._decisions
            if d.label == "activation" or d.label.endswith(("_kernel", "_se"))
        )


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block of a network."""

    stage: int
    in_channels: int
    out_channels: int
    kernel: int
    expand: int
    se: bool
    stride: int


def _stage_block(label: str) -> tuple[int, int | None]:
    """(stage, block) of a block decision's label; (stage, None) for a stage decision; (0,
    None) for ``activation``."""
    if not label.startswith("stage"):
        return 0, None
    parts = label.split("_")
    stage = int(parts[0][len("stage") :])
    if parts[1].startswith("block"):
        return stage, int(parts[1][len("block") :])
    return stage, None


def _distinct(values: Any) -> tuple[int, ...]:
    return tuple(dict.fromkeys(values))


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
