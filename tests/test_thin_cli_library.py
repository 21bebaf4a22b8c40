"""What the thin CLI moved into the library (issue 30): reachable and tested from Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from nasforge.cli.settings import Parsed, with_settings
from nasforge.errors import ConfigError, StoreError
from nasforge.report.search_text import best_lines, search_lines
from nasforge.run.setting_words import (
    parse_coefficients,
    parse_hyperparameters,
    parse_input_shape,
    parse_options,
)
from nasforge.run.storage import Store


def test_store_existing_and_pick_name(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="store not found"):
        Store.existing(tmp_path / "missing.sqlite")
    with Store(tmp_path / "s.sqlite") as journal:
        with pytest.raises(StoreError, match="holds no experiment"):
            journal.pick_name(None)
        assert journal.pick_name("given") == "given"


def test_settings_in_words() -> None:
    assert parse_options(["kernels=[3,5]", "width=8"]) == {"kernels": [3, 5], "width": 8}
    assert parse_hyperparameters(["lr=0.01,0.1"]) == {"lr": [0.01, 0.1]}
    assert parse_input_shape("3,32,32") == (3, 32, 32)
    assert parse_coefficients("1.2,1.1,1.15") == (1.2, 1.1, 1.15)
    for wrong in (lambda: parse_options(["x"]), lambda: parse_input_shape("3,x")):
        with pytest.raises(ConfigError):
            wrong()
    with pytest.raises(ConfigError, match="each >= 1"):
        parse_coefficients("0.5,1,1")


@dataclass
class _Settings:
    epochs: int = 3
    params: dict[str, int] = field(default_factory=dict)
    fast: bool = False


def test_with_settings_types_defaults_and_parses_the_fields() -> None:
    app = typer.Typer()
    seen: list[_Settings] = []
    options = {
        "epochs": typer.Option(help="Epochs."),
        "params": Parsed(
            Annotated[list[str] | None, typer.Option("--param", help="KEY=VALUE.")],
            lambda given: parse_options(given or []),
        ),
        "fast": typer.Option(help="Fast."),
    }

    @app.command()
    @with_settings(_Settings, options, parameter="settings")
    def run(settings: _Settings = _Settings(), last: int = 0) -> None:
        seen.append(settings)

    runner = CliRunner()
    assert runner.invoke(app, ["--param", "a=1", "--fast"]).exit_code == 0
    assert seen[-1] == _Settings(3, {"a": 1}, True)
    assert runner.invoke(app, ["--epochs", "x"]).exit_code == 2  # typed as the field
    with pytest.raises(AssertionError, match="declared twice"):

        @with_settings(_Settings, options, parameter="settings")
        def clash(settings: _Settings = _Settings(), epochs: int = 1) -> None:
            pass


def test_search_text_of_an_empty_experiment_and_a_plain_onnx_line() -> None:
    assert [str(line) for line in best_lines({"best": None, "name": "x"})] == [
        "No successful trial in 'x' yet."
    ]
    onnx = {
        "onnx": "m/model.onnx", "opset": 17, "checked_samples": 4,
        "max_probability_difference": 1e-7, "tolerance": 1e-4, "same_predictions": 1.0,
        "preprocess": "m/model.preprocess.json",
    }  # fmt: skip
    lines = search_lines({"best": None, "name": "x", "onnx": onnx})
    assert isinstance(lines[0], str) and lines[0].startswith("ONNX written to m/model.onnx")
