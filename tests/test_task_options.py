"""Task options declared once (issue 30): `TaskOptions` loads the same task as `load_task`,
refuses options of another task, and turns back into the words that load it again."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from nasforge.cli.task_options import TASK_OPTIONS, with_task_options
from nasforge.data.loaders import load_task
from nasforge.data.task_options import TaskOptions, build_task
from nasforge.errors import ConfigError
from nasforge.oneshot.summary import retrain_command


def test_build_task_loads_what_load_task_loads() -> None:
    built = build_task(TaskOptions())
    direct = load_task("digits", None, seed=0)
    assert built.input_shape == direct.input_shape
    np.testing.assert_array_equal(built.y_train, direct.y_train)


def test_options_of_another_task_are_refused_by_name() -> None:
    with pytest.raises(
        ConfigError, match=r"^--fine, --max-length apply to --task text, not --task csv$"
    ):
        TaskOptions("csv", fine=True, max_length=8).loader_options()
    with pytest.raises(ConfigError, match="--group-pattern applies to --task audio or images"):
        TaskOptions("csv", group_pattern="x").loader_options()


def test_spec_holds_the_resolved_data_and_the_options(tmp_path: Path) -> None:
    spec = TaskOptions("csv", tmp_path / "t.csv", label_column="y").spec()
    assert spec == {
        "name": "csv",
        "data": str((tmp_path / "t.csv").resolve()),
        "seed": 0,
        "options": {"label_column": "y"},
    }


def test_retrain_command_keeps_every_task_option(tmp_path: Path) -> None:
    """Before, the oneshot retrain command raised KeyError on --image-size, --group-column,
    --loader-workers and --skip-bad-files (after the whole search) and dropped
    --label-column, so its command trained on the wrong column."""
    images = TaskOptions(
        "images",
        tmp_path,
        image_size=16,
        group_pattern="^(a)",
        loader_workers=2,
        skip_bad_files=True,
    )
    words = shlex.split(retrain_command("a=1", images, "mobilenet", {"width": 8}))
    assert words[:3] == ["nasforge", "train", "a=1"]
    assert words[3:] == [
        "--task",
        "images",
        "--data",
        str(tmp_path),
        "--image-size",
        "16",
        "--loader-workers",
        "2",
        "--skip-bad-files",
        "--group-pattern",
        "^(a)",
        "--space",
        "mobilenet",
        "-s",
        "width=8",
        "--out",
        "models/retrained",
    ]
    table = retrain_command("a=1", TaskOptions("csv", tmp_path, label_column="y"), "mlp", {})
    assert "--label-column y" in table


def test_the_decorator_hands_the_command_one_task_options_value() -> None:
    app = typer.Typer()
    seen: list[TaskOptions] = []

    @app.command()
    @with_task_options(task_help="Task.")
    def run(arch: str, task_options: TaskOptions = TASK_OPTIONS, epochs: int = 3) -> None:
        seen.append(task_options)
        typer.echo(f"{arch} {epochs}")

    result = CliRunner().invoke(
        app, ["x", "--task", "text", "--max-length", "9", "--fine", "--epochs", "4"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "x 4"
    assert seen == [TaskOptions("text", max_length=9, fine=True)]
