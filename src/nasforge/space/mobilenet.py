"""The `mobilenet` space: chains of inverted-residual (MBConv) blocks, as in MnasNet,
ProxylessNAS, once-for-all and EfficientNet.

The network (`nasforge.space.mobilenet_net`): a stem (3x3 convolution, stride 2, 32
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

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision
from nasforge.space.choice_network import ChoiceNetworkSpace
from nasforge.space.picture import ArchPicture, ChainBlock, ChainPicture

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.define_by_run import ChoiceSpace

STRIDES: tuple[int, ...] = (1, 2, 2, 2, 1, 2, 1)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
ACTIVATIONS: tuple[str, ...] = ("swish", "relu6")
DEFAULT_WIDTHS: tuple[tuple[int, ...], ...] = (
    (16,),
    (16, 24, 32),
    (32, 40, 48),
    (64, 80, 96),
    (96, 112, 128),
    (160, 192, 224),
    (320,),
)
DEFAULT_DEPTHS: tuple[tuple[int, ...], ...] = (
    (1,),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1,),
)
_COMPACT_BLOCK = re.compile(r"k(\d+)e(\d+)(se)?")
MIN_RESOLUTION = 32
"""Five stride-2 steps: below 32 pixels the last stages would see less than one pixel."""

# (width, depth, resolution, dropout) of Tan and Le (2019), as in their reference code.
EFFICIENTNET_SCALING: dict[str, tuple[float, float, int, float]] = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
}
NAMED_OPTIONS: dict[str, dict[str, Any]] = {
    "mobilenetv2": {"width_mult": 1.0, "depth_mult": 1.0},
    **{
        name: {"width_mult": width, "depth_mult": depth, "resolution": resolution}
        for name, (width, depth, resolution, _) in EFFICIENTNET_SCALING.items()
    },
}
# Per stage (expansion, kernel, base width, base depth): EfficientNet-B0 (Tan and Le 2019,
# Table 1) and MobileNetV2 (Sandler et al. 2018, Table 2).
EFFICIENTNET_B0 = ((1, 3, 16, 1), (6, 3, 24, 2), (6, 5, 40, 2), (6, 3, 80, 3), (6, 5, 112, 3),
                   (6, 5, 192, 4), (6, 3, 320, 1))  # fmt: skip
MOBILENET_V2 = ((1, 3, 16, 1), (6, 3, 24, 2), (6, 3, 32, 3), (6, 3, 64, 4), (6, 3, 96, 3),
                (6, 3, 160, 3), (6, 3, 320, 1))  # fmt: skip


def round_channels(channels: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of `divisor`, never down by more than 10% (the
    ``round_filters`` / ``_make_divisible`` of the EfficientNet and MobileNetV2 references)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return rounded


def round_depth(depth: int, depth_mult: float) -> int:
    """Blocks of a stage after depth scaling: rounded up (``round_repeats``)."""
    return math.ceil(depth_mult * depth)


def width_label(stage: int) -> str:
    return f"stage{stage}_width"


def depth_label(stage: int) -> str:
    return f"stage{stage}_depth"


def block_label(stage: int, block: int, what: str) -> str:
    return f"stage{stage}_block{block}_{what}"


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
        from nasforge.space.mobilenet_net import MobileNetNetwork

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


@dataclass(frozen=True)
class LatencyUnit:
    """A piece of a network timed on its own for a latency lookup table: ``stem``, an MBConv
    block, or ``head``, with the spatial size of its input (ProxylessNAS and FBNet time each
    candidate block at each position's input size)."""

    kind: str
    """``stem``, ``block`` or ``head``."""
    size: int
    """Height (= width) of its input."""
    in_channels: int
    out_channels: int
    kernel: int = 0
    expand: int = 0
    se: bool = False
    stride: int = 1
    activation: str = "swish"

    @property
    def key(self) -> str:
        if self.kind == "block":
            return (
                f"block:{self.size}:{self.in_channels}>{self.out_channels}:k{self.kernel}"
                f":e{self.expand}:se{int(self.se)}:s{self.stride}:{self.activation}"
            )
        return f"{self.kind}:{self.size}:{self.in_channels}>{self.out_channels}:{self.activation}"


def latency_units(
    space: MobileNetSpace, arch: Arch, input_shape: tuple[int, ...], num_classes: int
) -> list[LatencyUnit]:
    """The stem, every active block and the head of `arch`, with their input sizes."""
    space.check_input(input_shape)
    activation = str(space.validate(arch)["activation"])
    size = space.resolution or int(input_shape[1])
    units = [
        LatencyUnit("stem", size, int(input_shape[0]), space.stem_channels, activation=activation)
    ]
    size = _halved(size)
    channels = space.stem_channels
    for block in space.blocks(arch):
        units.append(
            LatencyUnit(
                "block",
                size,
                block.in_channels,
                block.out_channels,
                block.kernel,
                block.expand,
                block.se,
                block.stride,
                activation,
            )
        )
        size = _halved(size) if block.stride == 2 else size
        channels = block.out_channels
    units.append(LatencyUnit("head", size, channels, num_classes, activation=activation))
    return units


def all_latency_units(
    space: MobileNetSpace, input_shape: tuple[int, ...], num_classes: int
) -> list[LatencyUnit]:
    """Every unit any arch of `space` can hold at this input: what a full table times."""
    space.check_input(input_shape)
    units: dict[str, LatencyUnit] = {}

    def add(unit: LatencyUnit) -> None:
        units.setdefault(unit.key, unit)

    size = space.resolution or int(input_shape[1])
    for activation in ACTIVATIONS:
        add(
            LatencyUnit(
                "stem", size, int(input_shape[0]), space.stem_channels, activation=activation
            )
        )
    size = _halved(size)
    previous: tuple[int, ...] = (space.stem_channels,)
    for s, stride in enumerate(STRIDES, start=1):
        widths, depths = space.stage_widths[s - 1], space.stage_depths[s - 1]
        expand = space.block_expansions(s)
        for activation in ACTIVATIONS:
            for kernel in space.kernels:
                for e in expand:
                    for se in (False, True):
                        for out in widths:
                            for cin in previous:
                                add(LatencyUnit("block", size, cin, out, kernel, e, se, stride,
                                                activation))  # fmt: skip
                            if max(depths) > 1:
                                out_size = _halved(size) if stride == 2 else size
                                add(LatencyUnit("block", out_size, out, out, kernel, e, se, 1,
                                                activation))  # fmt: skip
        size = _halved(size) if stride == 2 else size
        previous = widths
    for activation in ACTIVATIONS:
        for cin in previous:
            add(LatencyUnit("head", size, cin, num_classes, activation=activation))
    return list(units.values())


def stem_unit(size: int, in_channels: int, out_channels: int, activation: str) -> LatencyUnit:
    return LatencyUnit("stem", size, in_channels, out_channels, activation=activation)


def _halved(size: int) -> int:
    return (size + 1) // 2
