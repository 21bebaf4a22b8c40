"""Compound scaling: scaled archs, the coefficient grid, and `nasforge scale` on digits."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import ConfigError
from nasforge.run.compound_scaling import coefficient_grid
from nasforge.space import make_space_for_arch
from nasforge.space.mobilenet.names import depth_label, width_label
from nasforge.space.mobilenet.scaling import scale_arch, scaled_resolution
from nasforge.space.mobilenet.space import MobileNetSpace

runner = CliRunner()


def test_scaling_b0_by_b2s_coefficients_gives_b2() -> None:
    b0_space = make_space_for_arch("mobilenet", "efficientnet-b0")
    b2_space = make_space_for_arch("mobilenet", "efficientnet-b2")
    scaled_space, scaled = scale_arch(
        b0_space, b0_space.parse("efficientnet-b0"), depth=1.2, width=1.1, resolution=260
    )
    assert scaled_space.config() == b2_space.config()
    assert scaled == b2_space.parse("efficientnet-b2")


def test_deeper_stages_repeat_their_last_block() -> None:
    space = MobileNetSpace(width_mult=0.5)
    arch = space.parse("mobilenetv2")
    bigger, scaled = scale_arch(space, arch, depth=2.0, width=1.0, resolution=64)
    assert [scaled[depth_label(s)] for s in range(1, 8)] == [2, 4, 6, 8, 6, 6, 2]
    assert [scaled[width_label(s)] for s in range(1, 8)] == [
        arch[width_label(s)] for s in range(1, 8)
    ]
    blocks = bigger.blocks(scaled)
    assert all(b.kernel == 3 and not b.se for b in blocks)
    assert bigger.resolution == 64


def test_grid_keeps_the_flops_constraint() -> None:
    grid = coefficient_grid(tolerance=0.1)
    assert grid and all(abs(a * b * b * g * g - 2) <= 0.1 for a, b, g in grid)
    products = [round(abs(a * b**2 * g**2 - 2), 9) for a, b, g in grid]
    assert products == sorted(products)
    assert len(coefficient_grid(limit=3)) == 3
    with pytest.raises(ConfigError, match="widen the grid"):
        coefficient_grid(alphas=(1.0,), betas=(1.0,), gammas=(1.0,))


def test_scaled_resolution_rounds_to_multiples_of_8() -> None:
    assert scaled_resolution(224, 1.15) == 256
    assert scaled_resolution(32, 1.0) == 32
    assert scaled_resolution(32, 0.5) == 32  # never below the space's minimum


SMALL = ["-s", "width_mult=0.25", "-s", "resolution=32", "--epochs", "1"]


def test_scale_cli_with_given_coefficients() -> None:
    result = runner.invoke(
        app, ["scale", *SMALL, "--coefficients", "1.2,1.1,1.15", "--phi", "1", "--phi", "3",
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["chosen_by"] == "given" and report["coefficients"] == [1.2, 1.1, 1.15]
    steps = [(p["step"], p["phi"]) for p in report["points"]]
    assert steps == [("base", 0), ("scaled", 1), ("scaled", 3)]
    params = [p["metrics"]["params"] for p in report["points"]]
    flops = [p["metrics"]["flops"] for p in report["points"]]
    assert params == sorted(params) and flops == sorted(flops) and flops[2] > 2 * flops[0]
    assert [p["resolution"] for p in report["points"]] == [32, 40, 48]
    assert all(0 <= p["metrics"]["accuracy"] <= 100 for p in report["points"])


def test_scale_cli_grid_search_reuses_the_best_grid_point() -> None:
    result = runner.invoke(app, ["scale", *SMALL, "--grid-points", "2", "--phi", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    grid = [p for p in report["points"] if p["step"] == "grid"]
    (scaled,) = [p for p in report["points"] if p["step"] == "scaled"]
    assert len(grid) == 2 and report["chosen_by"] == "grid"
    best = max(grid, key=lambda p: p["metrics"]["accuracy"])
    assert [scaled["alpha"], scaled["beta"], scaled["gamma"]] == report["coefficients"]
    assert scaled["metrics"] == best["metrics"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coefficients", "1.2,1.1"], "--coefficients takes alpha,beta,gamma"),
        (["--coefficients", "0.9,1.1,1.1"], "each >= 1"),
        (["--phi", "0"], "phi values must be >= 1"),
        (["--grid-points", "0"], "--grid-points must be >= 1"),
        (["efficientnet-b9"], "malformed arch text"),
    ],
)
def test_bad_scale_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["scale", *args, *SMALL])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
