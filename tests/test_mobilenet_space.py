"""The `mobilenet` space: published sizes, compound scaling, networks, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import ArchError, SpaceError
from nasforge.measure import count_parameters
from nasforge.space import make_space, make_space_for_arch
from nasforge.space.mobilenet.names import (
    EFFICIENTNET_SCALING,
    block_label,
    depth_label,
    round_channels,
    round_depth,
)
from nasforge.space.mobilenet.space import MobileNetSpace

runner = CliRunner()

# Tan and Le (2019), Table 2 (parameters, multiply-adds); MobileNetV2: torchvision's count.
PUBLISHED = {
    "mobilenetv2": (224, 3_504_872, 300e6),
    "efficientnet-b0": (224, 5.3e6, 0.39e9),
    "efficientnet-b1": (240, 7.8e6, 0.70e9),
    "efficientnet-b2": (260, 9.2e6, 1.0e9),
    "efficientnet-b3": (300, 12e6, 1.8e9),
    "efficientnet-b4": (380, 19e6, 4.2e9),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_sizes_through_describe(name: str) -> None:
    resolution, params, flops = PUBLISHED[name]
    result = runner.invoke(
        app,
        ["describe", name, "--space", "mobilenet", "--input-shape", f"3,{resolution},"
         f"{resolution}", "--classes", "1000", "--json", "--no-latency"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    described = json.loads(result.stdout)
    assert abs(described["params"] / params - 1) <= 0.03, described["params"]
    assert abs(described["flops"] / flops - 1) <= 0.08, described["flops"]


def test_reference_counts_exactly() -> None:
    """torchvision's mobilenet_v2 and efficientnet_b0 have 3,504,872 and 5,288,548."""
    for name, expected in (("mobilenetv2", 3_504_872), ("efficientnet-b0", 5_288_548)):
        space = make_space_for_arch("mobilenet", name)
        model = space.build(space.parse(name), (3, 224, 224), 1000)
        assert count_parameters(model) == expected


def test_rounding_as_the_reference() -> None:
    # _make_divisible of torchvision / round_filters of the EfficientNet reference
    assert [round_channels(c * 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [
        16,
        24,
        48,
        88,
        120,
        208,
        352,
    ]  # fmt: skip  (torchvision's efficientnet_b2 stage widths)
    assert [round_channels(c * 1.4) for c in (32, 16, 24, 40, 80, 112, 192, 320)] == [
        48,
        24,
        32,
        56,
        112,
        160,
        272,
        448,
    ]  # fmt: skip  (efficientnet_b4: stem and stages)
    assert round_channels(11) == 16  # rounding down to 8 would lose more than 10%
    assert [round_depth(d, 1.8) for d in (1, 2, 2, 3, 3, 4, 1)] == [2, 4, 4, 6, 6, 8, 2]
    space = MobileNetSpace(width_mult=1.4, depth_mult=1.8)
    assert space.stem_channels == 48 and space.head_channels == 1792


def test_named_architectures_need_their_scaling() -> None:
    default = MobileNetSpace()
    assert set(default.named_architectures()) == {"mobilenetv2", "efficientnet-b0"}
    small = MobileNetSpace(width_mult=0.25, resolution=32)  # B0's structure, scaled down
    assert small.blocks(small.parse("efficientnet-b0"))[-1].out_channels == 80
    with pytest.raises(ArchError, match=r"-s width_mult=1\.2 -s depth_mult=1\.4 -s resolution=300"):
        default.parse("efficientnet-b3")
    for name, (width, depth, resolution, _) in EFFICIENTNET_SCALING.items():
        space = make_space_for_arch("mobilenet", name)
        assert (space.width_mult, space.depth_mult, space.resolution) == (width, depth, resolution)
        assert name in space.named_architectures()


def test_inactive_blocks_do_not_change_the_network() -> None:
    space = MobileNetSpace()
    arch = space.parse("mobilenetv2")
    assert arch[depth_label(2)] == 2
    other = arch.replace(**{block_label(2, 3, "kernel"): 7, block_label(2, 3, "se"): True})
    assert space.canonical(other) == space.canonical(arch)
    torch.manual_seed(0)
    a = space.build(arch, (3, 32, 32), 10)
    torch.manual_seed(0)
    b = space.build(other, (3, 32, 32), 10)
    assert count_parameters(a) == count_parameters(b)
    x = torch.randn(2, 3, 32, 32)
    a.eval(), b.eval()
    assert torch.equal(a(x), b(x))


def test_sampled_children_run_and_resolution_resizes() -> None:
    space = MobileNetSpace(width_mult=0.25, resolution=64)
    rng = np.random.default_rng(0)
    for _ in range(3):
        arch = space.sample(rng)
        model = space.build(arch, (1, 8, 8), 7).eval()
        assert model(torch.randn(2, 1, 8, 8)).shape == (2, 7)
        blocks = space.blocks(arch)
        assert sum(1 for b in blocks if b.stride == 2) == 4
        assert len(blocks) == sum(int(arch[depth_label(s)]) for s in range(1, 8))


def test_se_and_expansion_change_the_block() -> None:
    space = MobileNetSpace()
    arch = space.parse("mobilenetv2")
    with_se = arch.replace(**{block_label(3, 0, "se"): True})
    narrow = arch.replace(**{block_label(3, 0, "expand"): 3})
    base = count_parameters(space.build(arch))
    hidden, squeeze = 24 * 6, 24 // 4
    assert count_parameters(space.build(with_se)) - base == 2 * hidden * squeeze + hidden + squeeze
    assert count_parameters(space.build(narrow)) < base


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["describe", "efficientnet-b9", "--space", "mobilenet"], "malformed arch text"),
        (["describe", "mobilenetv2", "--space", "mobilenet", "-s", "resolution=16"],
         "resolution 16"),
        (["describe", "mobilenetv2", "--space", "mobilenet", "-s", "width_mult=0"],
         "width_mult > 0"),
        (["describe", "efficientnet-b3", "--space", "mobilenet", "-s", "width_mult=1.0"],
         "efficientnet-b3 is an arch of the mobilenet space with other options"),
        (["describe", "mobilenetv2", "--space", "mobilenet", "--input-shape", "3,16,16"],
         "at least 32x32"),
        (["describe", "mobilenetv2", "--space", "mobilenet", "-s",
          "widths=[[16],[24],[],[64],[96],[160],[320]]"], "an empty stage is not allowed"),
        (["describe", "mobilenetv2", "--space", "mobilenet", "-s", "kernels=[3,"],
         "is not a list"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_stage_is_refused() -> None:
    widths = [[16], [24], [], [64], [96], [160], [320]]
    with pytest.raises(SpaceError, match="an empty stage is not allowed"):
        make_space("mobilenet", widths=widths)
    with pytest.raises(SpaceError, match="7 stages"):
        make_space("mobilenet", depths=[[1], [2]])


def test_list_options_from_the_command_line() -> None:
    result = runner.invoke(
        app,
        ["describe", "stage1_width=16", "--space", "mobilenet", "-s", "kernels=[3,5]",
         "-s", "expansions=[6]", "--no-latency"],
    )  # fmt: skip
    assert result.exit_code == 2  # a partial arch: the options themselves were read
    assert "kernels" not in result.stderr and "missing" in result.stderr


def test_compact_text_round_trips() -> None:
    space = MobileNetSpace()
    b0 = space.parse("efficientnet-b0")
    text = space.format(b0)
    assert text.startswith("swish/16:k3e1se/24:k3e6se,k3e6se/40:k5e6se,k5e6se/")
    assert space.parse(text) == b0
    rng = np.random.default_rng(0)
    for _ in range(30):
        arch = space.sample(rng)
        assert arch == space.canonical(arch)  # sampled archs are canonical
        assert space.parse(space.format(arch)) == arch
        child = space.mutate(arch, rng)
        assert child == space.canonical(child) and child != arch
    # an arch with choices on inactive blocks keeps its full text (and round-trips)
    noisy = b0.replace(**{block_label(2, 3, "kernel"): 7})
    assert space.format(noisy) == str(noisy) and space.parse(space.format(noisy)) == noisy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("swish/16:k3e1", "expected ACTIVATION/ then 7 stages"),
        ("tanh/16:k3e1/24:k3e6/40:k5e6/80:k3e6/112:k5e6/192:k5e6/320:k3e6", "expected ACTIVATION"),
        ("swish/16:k3e1/24:k3x6/40:k5e6/80:k3e6/112:k5e6/192:k5e6/320:k3e6", "stage 2 '24:k3x6'"),
        ("swish/16:k3e1/24:/40:k5e6/80:k3e6/112:k5e6/192:k5e6/320:k3e6", "stage 2 '24:'"),
        (
            "swish/16:k3e1/24:k9e6/40:k5e6/80:k3e6/112:k5e6/192:k5e6/320:k3e6",
            "stage2_block0_kernel",
        ),
        ("swish/16:k3e1/25:k3e6/40:k5e6/80:k3e6/112:k5e6/192:k5e6/320:k3e6", "stage2_width"),
    ],
)
def test_malformed_compact_text_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ArchError, match=re.escape(message)):
        MobileNetSpace().parse(text)
    result = runner.invoke(app, ["describe", text, "--space", "mobilenet", "--no-latency"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_the_input_resolution_is_the_resize_target_or_the_image_height() -> None:
    assert MobileNetSpace(resolution=64).input_resolution((1, 8, 8)) == 64
    assert MobileNetSpace().input_resolution((3, 40, 40)) == 40
    with pytest.raises(SpaceError, match="at least"):
        MobileNetSpace().input_resolution((1, 8, 8))
