"""The CLI on real training: search on digits, retrain and save the winner, train, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data.loaders import load_digits_task
from nasforge.export import load_model

runner = CliRunner()
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
TINY = ["-s", "channels=4", "-s", "cells_per_stage=1"]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _raw_digits(path: Path) -> np.ndarray:
    """The digits test split as raw pixels (0..16 scaled to 0..1, as the loader reads them)."""
    from sklearn.datasets import load_digits

    task = load_digits_task()
    digits = load_digits()
    raw = digits.images.astype(np.float32) / 16.0
    normalized = task.normalize(raw[:, None])
    order = [
        int(np.flatnonzero((normalized == x).all(axis=(1, 2, 3)))[0]) for x in task.x_test[:50]
    ]
    np.savez(path, x=raw[order])
    return task.y_test[:50]


def test_search_retrains_saves_and_predicts(tmp_path: Path) -> None:
    store, out = tmp_path / "s.sqlite", tmp_path / "winner"
    code, stdout, stderr = _run(
        "search",
        "--budget",
        "3",
        "--epochs",
        "2",
        "--final-epochs",
        "4",
        *TINY,
        "--store",
        str(store),
        "--out",
        str(out),
        "--json",
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["trials"] == 3
    best = payload["best"]
    assert best["metrics"]["accuracy"] > 50 and best["metrics"]["params"] > 0
    assert "latency_ms" in best["metrics"] and "flops" in best["metrics"]
    final = payload["final"]
    assert final["arch"] == best["arch"] and final["epochs"] == 4
    assert final["model_dir"] == str(out) and 80 < final["test_accuracy"] <= 100
    assert sorted(p.name for p in out.iterdir()) == [
        "arch.json",
        "metrics.json",
        "model.safetensors",
    ]
    saved = load_model(out)
    assert saved.metrics["test_accuracy"] == pytest.approx(final["test_accuracy"])

    labels = _raw_digits(tmp_path / "raw.npz")
    code, stdout, stderr = _run("predict", str(out), "--data", str(tmp_path / "raw.npz"), "--json")
    assert code == 0, stderr
    predictions = json.loads(stdout)["predictions"]
    assert len(predictions) == 50
    assert np.mean(np.array(predictions) == labels) > 0.8


def test_train_one_architecture(tmp_path: Path) -> None:
    out = tmp_path / "model"
    code, stdout, stderr = _run("train", CELL, "--epochs", "3", *TINY, "--out", str(out), "--json")
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["arch"] == CELL and payload["epochs"] == 3
    assert 80 < payload["test_accuracy"] <= 100
    assert load_model(out).space.format(load_model(out).arch) == CELL


def test_joint_hyperparameter_search_records_them(tmp_path: Path) -> None:
    code, stdout, stderr = _run(
        "search",
        "--task",
        "digits",
        "--space",
        "mlp",
        "--hp",
        "lr=0.01,0.1",
        "--budget",
        "3",
        "--epochs",
        "1",
        "--final-epochs",
        "0",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--json",
    )
    assert code == 0, stderr
    arch = json.loads(stdout)["best"]["arch_text"]
    assert "hp.lr=0.01" in arch or "hp.lr=0.1" in arch
    assert "final" not in json.loads(stdout)


# -- bad input: one line, exit 2, nothing written ------------------------------------------------
def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _images(n: int, shape: tuple[int, ...] = (32, 32, 3)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(n, *shape), dtype=np.uint8)


def _bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    labels = np.arange(200) % 10
    wrong_keys = _write_npz(tmp / "keys.npz", images=_images(10))
    wrong_shape = _write_npz(
        tmp / "shape.npz",
        x_train=_images(200, (28, 28)),
        y_train=labels,
        x_test=_images(50, (28, 28)),
        y_test=labels[:50],
    )
    float_labels = _write_npz(
        tmp / "float.npz",
        x_train=_images(200),
        y_train=labels + 0.5,
        x_test=_images(50),
        y_test=labels[:50] + 0.5,
    )
    no_label = tmp / "table.csv"
    no_label.write_text("a,b,target\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(40)))
    return [
        (["--task", "cifar10", "--data", str(tmp / "missing.npz")], "no such data file"),
        (
            ["--task", "cifar10", "--data", str(wrong_keys)],
            "lacks x_train, y_train, x_test, y_test",
        ),
        (["--task", "cifar10", "--data", str(wrong_shape)], "expected (3, 32, 32)"),
        (["--task", "cifar10", "--data", str(float_labels)], "must hold integer class ids"),
        (
            ["--task", "csv", "--data", str(no_label), "--label-column", "label"],
            "has no column 'label'",
        ),
        (["--task", "mnist1d", "--space", "nb201"], "spaces that fit task 'mnist1d': mlp, conv1d"),
        (["--task", "digits", "--space", "conv1d"], "space 'conv1d' needs sequences"),
        (["--epochs", "0"], "epochs must be >= 1"),
        (["--task", "imagenet"], "unknown task 'imagenet'"),
        (["--hp", "lr=-1"], "hyperparameter lr needs finite numbers > 0.0"),
        (["--hp", "momentum=0.9"], "unknown hyperparameter(s) momentum"),
        (["--hp", "lr"], "must read NAME=VALUE,VALUE"),
    ]


def test_bad_task_inputs_fail_cleanly_and_write_nothing(tmp_path: Path) -> None:
    store, out = tmp_path / "s.sqlite", tmp_path / "out"
    for args, needle in _bad_inputs(tmp_path):
        code, stdout, stderr = _run("search", *args, "--store", str(store), "--out", str(out))
        assert code == 2, (args, stdout, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, stderr)
        assert not store.exists() and not out.exists(), args


def test_train_refuses_an_occupied_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, stderr = _run("train", CELL, "--out", str(out))
    assert code == 2 and "exists and is not empty" in stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_predict_rejects_a_missing_model_and_wrong_inputs(tmp_path: Path) -> None:
    code, _, stderr = _run("predict", str(tmp_path / "none"), "--data", str(tmp_path / "x.npz"))
    assert code == 2 and len(stderr.strip().splitlines()) == 1
