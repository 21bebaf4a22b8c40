"""Architectures drawn as text (`nasforge.report.text_picture`) and in `nasforge best`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.report.text_picture import render_text
from nasforge.space import NB201Space
from nasforge.space.picture import ChainBlock, ChainPicture

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_an_nb201_cell_lists_each_node_with_its_inputs_and_leaves_out_none() -> None:
    space = NB201Space()
    text = render_text(space.pictures(space.parse(BEST)))
    assert text.splitlines() == [
        "cell",
        "  node1 <- in: nor_conv_3x3",
        "  node2 <- in: nor_conv_3x3",
        "  out   <- in: skip_connect, node1: nor_conv_3x3, node2: nor_conv_1x1",
    ]


def test_a_chain_is_a_line_per_block_grouped_by_stage() -> None:
    chain = ChainPicture(
        "chain",
        (
            ChainBlock(1, {"kernel": 3, "expansion": 6}),
            ChainBlock(1, {"kernel": 5, "expansion": 3}),
            ChainBlock(2, {"kernel": 7, "expansion": 4}),
        ),
    )
    lines = render_text([chain]).splitlines()
    assert lines[1].split() == ["stage", "1", "block", "1", "kernel=3", "expansion=6"]
    assert lines[2].split() == ["block", "2", "kernel=5", "expansion=3"]
    assert lines[3].split() == ["stage", "2", "block", "3", "kernel=7", "expansion=4"]


def test_a_space_without_pictures_is_drawn_as_its_decisions() -> None:
    assert render_text([], Arch({"width": 64, "act": "relu"})).splitlines() == [
        "  width = 64",
        "  act   = relu",
    ]


def test_best_draws_the_winning_cell(tmp_path: Path, nb201_csv_path: Path) -> None:
    table = nb201_csv_path
    store = tmp_path / "s.sqlite"
    runner = CliRunner()
    searched = runner.invoke(
        app,
        [
            "search",
            "--space",
            "nb201",
            "--benchmark",
            str(table),
            "--budget",
            "20",
            "--store",
            str(store),
            "--name",
            "t",
            "--seed",
            "1",
            "--json",
        ],
    )
    assert searched.exit_code == 0, searched.output
    shown = runner.invoke(app, ["best", "--store", str(store), "--name", "t", "--json"])
    payload = json.loads(shown.stdout)
    space = NB201Space()
    winner = space.parse(payload["best"]["arch"])
    assert payload["picture"] == render_text(space.pictures(winner))
    printed = runner.invoke(app, ["best", "--store", str(store), "--name", "t"])
    assert "  out   <- " in printed.stdout
