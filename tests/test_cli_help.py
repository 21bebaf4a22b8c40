"""Help and errors (issue 35): every command's --help renders its text whole (no Rich
markup eaten) with the lists of choices taken from the registries; space options are
checked; describe and query point at the space an arch belongs to; describe says at which
resolution it counted."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data.loaders import TASK_NAMES
from nasforge.evaluate.nb201_benchmark import DATASETS
from nasforge.space import SPACES
from nasforge.strategy import STRATEGIES

runner = CliRunner()
NB201_ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def _help(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert result.exit_code == 0, result.output
    return _flat(result.stdout)


def _flat(text: str) -> str:
    """The text without box drawing and whitespace (Rich wraps and frames the help)."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


def _commands() -> list[list[str]]:
    """Every command, as the words that run it (a group's commands as two words)."""
    found: list[list[str]] = []
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        found += [[name, sub] for sub in subcommands] if subcommands else [[name]]
    return found


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_help_text_is_rendered_whole(command: list[str]) -> None:
    target: Any = typer.main.get_command(app)
    for name in command:
        target = target.commands[name]
    shown = _help(*command)
    for param in target.params:
        text = getattr(param, "help", None)
        if text:
            expected = _flat(text.replace("\\[", "["))
            assert expected in shown, (param.name, expected)


@pytest.mark.parametrize("command", ["search", "train", "resume", "oneshot"])
def test_the_onnx_extra_is_named_in_the_help(command: str) -> None:
    assert "nasforge[onnx]" in _help(command)


def test_help_lists_every_registered_strategy_space_task_and_dataset() -> None:
    shown = _help("search")
    strategies = shown.split("Searchstrategy:")[1]
    assert all(name in strategies for name in STRATEGIES)
    assert _flat(", ".join(STRATEGIES)) in shown
    assert _flat(", ".join(SPACES)) in shown
    assert _flat(", ".join(TASK_NAMES)) in shown
    assert _flat(", ".join(DATASETS)) in shown
    assert _flat(", ".join(SPACES)) in _help("describe")
    assert _flat(", ".join(DATASETS)) in _help("query")


def _user_error(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    return line


def test_a_misspelt_space_option_lists_the_valid_keys(tmp_path: Path) -> None:
    expected = "space 'nb201' has no option chanels; its options: cells_per_stage, channels"
    assert expected in _user_error("describe", NB201_ARCH, "-s", "chanels=8", "--no-latency")
    line = _user_error("search", "-s", "chanels=8", "--store", str(tmp_path / "s.sqlite"))
    assert expected in line and "__init__" not in line
    assert not (tmp_path / "s.sqlite").exists()


def test_describe_suggests_the_space_an_arch_belongs_to() -> None:
    line = _user_error("describe", "DARTS_V2")
    assert "malformed arch text" in line and "add --space darts" in line
    line = _user_error("describe", "efficientnet-b0", "--space", "nb201")
    assert "add --space mobilenet" in line


def test_query_says_which_space_an_arch_belongs_to(nb201_csv_path: Path) -> None:
    line = _user_error("query", "DARTS_V2", "--benchmark", str(nb201_csv_path))
    assert "arch of space darts" in line and "--space darts" in line


def test_an_arch_of_no_space_gets_no_hint() -> None:
    line = _user_error("describe", "not-an-arch")
    assert "malformed arch text" in line and "--space" not in line


def test_describe_states_the_resolution_it_counted_at() -> None:
    args = ["describe", "efficientnet-b0", "--space", "mobilenet", "--no-latency"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "input 3,32,32 resized to 224x224," in result.stdout
    payload = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert payload["resolution"] == 224 and payload["input_shape"] == [3, 32, 32]
    plain = runner.invoke(app, ["describe", NB201_ARCH, "--no-latency", "--json"]).stdout
    assert json.loads(plain)["resolution"] == 32


def test_the_method_and_hyperparameter_lists_are_the_registered_ones() -> None:
    from nasforge.cli.oneshot import METHOD_NAMES
    from nasforge.space.hyperparams import HYPERPARAMETERS

    shown = _help("oneshot")
    assert all(_flat(name) in shown for name in METHOD_NAMES)
    assert _flat(", ".join(HYPERPARAMETERS)) in _help("search")
