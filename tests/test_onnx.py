"""ONNX export: every space's child networks, the saved normalization inside the graph, the
check in onnxruntime, and `--onnx` / `nasforge export` from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

from helpers import load_small_cnn
from nasforge.cli import app
from nasforge.data import Task, load_digits_task
from nasforge.data.loaders import load_mnist1d_task
from nasforge.export import ExportError, load_model, save_model
from nasforge.export.onnx import export_onnx
from nasforge.space import make_space
from nasforge.space.base import SearchSpace
from nasforge.space.choices.space import ChoiceSpace

runner = CliRunner()
pytestmark = pytest.mark.slow


def _space(name: str) -> SearchSpace:
    if name == "small_cnn":
        return ChoiceSpace(load_small_cnn())
    if name == "nb201":
        return make_space("nb201", channels=4, cells_per_stage=1)
    return make_space(name)


def _task(name: str) -> Task:
    return load_mnist1d_task(seed=0) if name == "conv1d" else load_digits_task(seed=0)


@pytest.mark.parametrize("space_name", ["nb201", "mlp", "conv1d", "small_cnn"])
def test_the_onnx_graph_predicts_what_the_saved_model_predicts_on_raw_inputs(
    space_name: str, tmp_path: Path
) -> None:
    space, task = _space(space_name), _task(space_name)
    arch = space.sample(np.random.default_rng(3))
    torch.manual_seed(0)
    net = space.build(arch, task.input_shape, task.num_classes).eval()
    folder = save_model(tmp_path / "m", space=space, arch=arch, model=net, task=task)
    loaded = load_model(folder, trust_space_code=space_name == "small_cnn")  # a user's space
    result = export_onnx(loaded, tmp_path / "m.onnx")
    assert result.max_probability_difference <= 1e-4 and result.same_predictions == 1.0
    # raw test inputs, before normalization: the graph normalizes them itself
    raw = task.x_test[:100] * task.std.reshape(1, -1, *[1] * (task.x_test.ndim - 2))
    raw = (raw + task.mean.reshape(1, -1, *[1] * (task.x_test.ndim - 2))).astype(np.float32)
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(None, {"x": raw})
    assert logits.shape == (100, task.num_classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), loaded.predict(raw))
    np.testing.assert_allclose(probabilities, loaded.predict_proba(raw), atol=1e-4)


def test_a_graph_that_disagrees_beyond_the_tolerance_is_refused(tmp_path: Path) -> None:
    space, task = _space("mlp"), _task("mlp")
    arch = space.sample(np.random.default_rng(0))
    net = space.build(arch, task.input_shape, task.num_classes).eval()
    loaded = load_model(save_model(tmp_path / "m", space=space, arch=arch, model=net, task=task))
    with pytest.raises(ExportError, match="differ from PyTorch's"):
        export_onnx(loaded, tmp_path / "m.onnx", tolerance=-1.0)
    assert not (tmp_path / "m.onnx").exists()


def test_train_with_onnx_writes_a_checked_graph_and_export_rewrites_it(tmp_path: Path) -> None:
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    trained = runner.invoke(
        app,
        [
            "train",
            cell,
            "--task",
            "digits",
            "--epochs",
            "1",
            "-s",
            "channels=4",
            "-s",
            "cells_per_stage=1",
            "--out",
            str(tmp_path / "m"),
            "--onnx",
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    payload = json.loads(trained.stdout)
    assert Path(payload["onnx"]["onnx"]) == tmp_path / "m" / "model.onnx"
    assert payload["onnx"]["max_probability_difference"] <= payload["onnx"]["tolerance"]
    digits = tmp_path / "x.npy"
    np.save(digits, load_digits_task(seed=0).x_test[:20])
    exported = runner.invoke(
        app,
        [
            "export",
            str(tmp_path / "m"),
            "--out",
            str(tmp_path / "other.onnx"),
            "--data",
            str(digits),
            "--json",
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["checked_samples"] == 20
    assert (tmp_path / "other.onnx").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "MODEL", "--format", "tflite"], "unknown export format 'tflite'"),
        (["export", "missing-folder"], "missing-folder"),
        (["export", "MODEL", "--out", "."], "is a folder"),
        (["search", "--space", "nb201", "--benchmark", "TABLE", "--onnx"], "--onnx exports"),
        (["oneshot", "--onnx"], "--onnx exports the saved child: it needs --out"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, nb201_csv_path: Path
) -> None:
    space, task = _space("mlp"), _task("mlp")
    arch = space.sample(np.random.default_rng(0))
    net = space.build(arch, task.input_shape, task.num_classes).eval()
    save_model(tmp_path / "model", space=space, arch=arch, model=net, task=task)
    replaced = [
        str(tmp_path / "model") if a == "MODEL" else str(nb201_csv_path) if a == "TABLE" else a
        for a in args
    ]
    result = runner.invoke(app, replaced)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
