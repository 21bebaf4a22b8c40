"""The simple baseline beside every text, audio and table search: fit on exactly the search's
training split, reported in the CLI output, --json, the store and the HTML report."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.data.audio import load_audio_task
from nasforge.data.loaders import load_digits_task, task_from_arrays
from nasforge.data.task import Task
from nasforge.data.text import load_text_task
from nasforge.evaluate.baselines import (
    baseline_inputs,
    baseline_kind,
    fit_baseline,
    losing_line,
    make_baseline,
    with_baseline,
)

runner = CliRunner()


def _table(tmp_path: Path, rows: int = 300) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    y = ((x[:, 0] * x[:, 1] > 0) ^ (x[:, 2] > 0.5)).astype(int)
    table = tmp_path / "table.csv"
    lines = [
        ",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(x, y, strict=True)
    ]
    table.write_text("a,b,c,d,label\n" + "\n".join(lines) + "\n")
    return table


def _texts(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    words = {"q": ["who", "what", "when", "where"], "s": ["the", "a", "big", "small"]}
    lines = []
    for i in range(240):
        label = "qs"[i % 2]
        text = " ".join(rng.choice(words[label] + ["and", "or", "it"], size=6))
        lines.append(f"{text},{label}")
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\n" + "\n".join(lines) + "\n")
    return texts


@pytest.fixture(scope="module")
def fsdd() -> Path:
    return shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent


def _check_fit_on_the_training_split(task: Task, kind: str) -> None:
    fitted = fit_baseline(task, seed=3)
    assert fitted is not None and fitted.kind == kind == baseline_kind(task)
    ours = make_baseline(kind, seed=3).fit(baseline_inputs(kind, task.x_train), task.y_train)
    mine = make_baseline(kind, seed=3).fit(
        baseline_inputs(kind, np.concatenate([task.x_train, task.x_valid])),
        np.concatenate([task.y_train, task.y_valid]),
    )
    for x, y, reported in (
        (task.x_valid, task.y_valid, fitted.valid_accuracy),
        (task.x_test, task.y_test, fitted.test_accuracy),
    ):
        inputs = baseline_inputs(kind, x)
        expected = ours.predict(inputs)
        np.testing.assert_array_equal(fitted.model.predict(inputs), expected)
        np.testing.assert_allclose(
            fitted.model.decision_function(inputs), ours.decision_function(inputs)
        )
        assert reported == pytest.approx(100.0 * np.mean(expected == y))
    # a baseline that had seen the validation split would score it otherwise
    valid_inputs = baseline_inputs(kind, task.x_valid)
    assert not np.allclose(
        mine.decision_function(valid_inputs), fitted.model.decision_function(valid_inputs)
    )
    # for a winner retrained on training + validation, the test line is refit on those
    refit = fit_baseline(task, seed=3, with_validation=True)
    assert refit is not None and refit.test_fit == "train+valid" and fitted.test_fit == "train"
    assert refit.valid_accuracy == fitted.valid_accuracy
    test_inputs = baseline_inputs(kind, task.x_test)
    np.testing.assert_allclose(
        refit.test_model.decision_function(test_inputs), mine.decision_function(test_inputs)
    )
    assert refit.test_accuracy == pytest.approx(
        100.0 * np.mean(mine.predict(test_inputs) == task.y_test)
    )


def test_the_table_baseline_is_fit_on_exactly_the_training_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = (x[:, 0] + 0.7 * rng.normal(size=400) > 0).astype(np.int64)
    _check_fit_on_the_training_split(task_from_arrays("t", x, y), "table")


def test_the_text_baseline_is_fit_on_exactly_the_training_split(tmp_path: Path) -> None:
    _check_fit_on_the_training_split(load_text_task(_texts(tmp_path)), "text")


def test_the_audio_baseline_is_fit_on_exactly_the_training_split(
    fsdd: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for name in sorted(p.name for p in fsdd.glob("[0-3]_*_[0-9].wav")):
        shutil.copy(fsdd / name, folder / name)
    task = load_audio_task(folder, label_pattern=r"^(\d)_", valid_fraction=0.3)
    _check_fit_on_the_training_split(task, "audio")


def test_images_have_no_baseline() -> None:
    assert baseline_kind(load_digits_task()) is None


def test_the_line_when_the_winner_loses() -> None:
    baseline = {"arch": "tf-idf word 1-2 grams + linear SVM", "test_accuracy": 90.8}
    assert losing_line(91.0, baseline) is None
    line = losing_line(89.4, baseline)
    assert line is not None and "89.40%" in line and "90.80%" in line and "\n" not in line
    assert with_baseline({"test_accuracy": 89.4}, baseline) == {
        "test_accuracy": 89.4,
        "baseline": baseline,
        "loses_to_baseline": line,
    }
    assert "loses_to_baseline" not in with_baseline({"test_accuracy": 91.0}, baseline)


@pytest.mark.slow
def test_a_csv_search_reports_its_baseline_everywhere(tmp_path: Path) -> None:
    args = ["search", "--task", "csv", "--data", str(_table(tmp_path)), "--budget", "2",
            "--epochs", "1", "--final-epochs", "1", "--threads", "1", "--workers", "1",
            "--name", "t"]  # fmt: skip
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    baseline = payload["baseline"]
    assert baseline["arch"] == "histogram gradient boosting"
    assert 0 <= baseline["valid_accuracy"] <= 100 and 0 <= baseline["test_accuracy"] <= 100
    final = payload["final"]
    # by default the winner retrains on training + validation, and the baseline's test line
    # is refit on the same examples
    assert final["baseline"] == baseline and final["valid_trained"] is True
    assert baseline["test_fit"] == "train+valid"
    loses = final["test_accuracy"] < baseline["test_accuracy"]
    assert ("loses_to_baseline" in final) == loses
    config = sqlite3.connect("nasforge.sqlite").execute("SELECT config FROM experiments").fetchone()
    assert json.loads(config[0])["final"]["baseline"] == baseline
    report = runner.invoke(app, ["report", "--out", "r.html"])
    assert report.exit_code == 0, report.output
    html = Path("r.html").read_text()
    assert "histogram gradient boosting: test accuracy" in html
    human = runner.invoke(
        app, [*args[:-2], "--name", "u", "--out", "models/u", "--final-data", "train"]
    )
    assert human.exit_code == 0, human.output
    assert "baseline histogram gradient boosting: test accuracy" in human.stdout
    assert "valid" in human.stdout and "not held out" not in human.stdout
    assert "refit on train+valid" not in human.stdout
