"""`nasforge describe`: one architecture of any space, its size and cost, and its picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.evaluate import NB201Table
from nasforge.measure.describe import describe_arch
from nasforge.report.text_picture import render_text
from nasforge.space import NB201Space, make_space

runner = CliRunner()
CELLS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
)


@pytest.mark.parametrize("cell", CELLS)
def test_nb201_sizes_match_the_benchmark_table(cell: str, nb201_table: NB201Table) -> None:
    space = NB201Space()
    described = describe_arch(space, space.parse(cell), latency=False)
    row = nb201_table.metrics(nb201_table.row_of(cell))
    assert described.params == round(row["params_m_cifar10"] * 1e6)
    # multiply-adds of convolutions and linear layers only; NAS-Bench-201's count adds
    # normalization, pooling and additions (tests/test_measure.py checks the convention)
    assert 0.8 * row["flops_m_cifar10"] * 1e6 < described.flops < row["flops_m_cifar10"] * 1e6


def test_the_json_gives_size_cost_latency_and_the_picture() -> None:
    result = runner.invoke(app, ["describe", CELLS[0], "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["params"] == 830_426 and payload["flops"] > 100e6
    assert payload["latency_ms"] > 0 and payload["threads"] >= 1
    space = NB201Space()
    assert payload["picture"] == render_text(space.pictures(space.parse(CELLS[0])))
    assert payload["canonical"] != payload["arch"]  # none~1 makes node2's second input dead


@pytest.mark.parametrize(
    ("space_name", "shape", "options"),
    [("mlp", "64", []), ("conv1d", "1,40", []), ("nb201", "1,8,8", ["-s", "channels=4"])],
)
def test_any_space_on_any_input(space_name: str, shape: str, options: list[str]) -> None:
    space = make_space(space_name, **({"channels": 4} if options else {}))
    arch = space.format(space.sample(np.random.default_rng(0)))
    result = runner.invoke(
        app,
        [
            "describe",
            arch,
            "--space",
            space_name,
            *options,
            "--input-shape",
            shape,
            "--classes",
            "3",
            "--no-latency",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["input_shape"] == [int(s) for s in shape.split(",")]
    assert payload["params"] > 0 and payload["latency_ms"] is None


def test_a_user_space_is_drawn_as_its_decisions() -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"
    space = make_space(f"{path}:SmallCNN")
    arch = space.sample(np.random.default_rng(0))
    result = runner.invoke(
        app,
        [
            "describe",
            str(arch),
            "--space",
            f"{path}:SmallCNN",
            "--input-shape",
            "1,8,8",
            "--no-latency",
        ],
    )
    assert result.exit_code == 0, result.output
    for label in arch:
        assert f"  {label}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([CELLS[0], "--input-shape", "3,x"], "--input-shape '3,x' is not a shape"),
        ([CELLS[0], "--input-shape", "0,32,32"], "is not a shape"),
        ([CELLS[0], "--classes", "0"], "--classes must be >= 1"),
        ([CELLS[0], "--space", "nope"], "unknown search space 'nope'"),
        (["|a~0|"], "malformed NB201 arch string"),
        ([CELLS[0], "--input-shape", "3,32"], "input"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["describe", *args, "--no-latency"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
