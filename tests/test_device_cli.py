"""--device and --precision on every command that runs networks: each takes --device cpu
and --precision bf16 (export: --device), records what it used, and refuses a GPU torch
does not see and an unknown device with one line, exit 2, nothing written."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data.loaders import load_digits_task
from nasforge.evaluate.training import retrain
from nasforge.export import load_model, save_model
from nasforge.run.setup import training_evaluator
from nasforge.space.nb201.space import NB201Space

runner = CliRunner()
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
TINY = ["-s", "channels=4", "-s", "cells_per_stage=1"]
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the machine without GPU")


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained by `nasforge train --device cpu --precision bf16`."""
    out = tmp_path_factory.mktemp("bf16") / "model"
    code, _, stderr = _run(
        "train", CELL, *TINY, "--epochs", "1", "--device", "cpu", "--precision", "bf16",
        "--out", str(out), "--json",
    )  # fmt: skip
    assert code == 0, stderr
    return out


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "x.npz"
    np.savez(path, x=load_digits_task().x_test[:20])
    return path


def _commands(tmp: Path, model: Path, inputs: Path) -> dict[str, list[str]]:
    """Each command at its smallest, writing under ``tmp``."""
    store = str(tmp / "s.sqlite")
    return {
        "search": ["search", "--budget", "1", "--epochs", "1", "--final-epochs", "0", *TINY,
                   "--store", store, "--workers", "1", "--json"],
        "train": ["train", CELL, *TINY, "--epochs", "1", "--out", str(tmp / "m"), "--json"],
        "oneshot": ["oneshot", "--method", "darts", *TINY, "--epochs", "1", "--name", "o",
                    "--store", store, "--json"],
        "proxies": ["proxies", "--space", "nb201", *TINY, "--task", "digits", "--sample", "2",
                    "--proxy", "synflow", "--proxy", "snip", "--batch-size", "8",
                    "--out", str(tmp / "p.csv"), "--json"],
        "predict": ["predict", str(model), "--data", str(inputs), "--json"],
        "latency": ["latency", "build", "-s", "width_mult=0.25", "-s", "kernels=[3]",
                    "-s", "expansions=[3]", "-s", "resolution=32", "--input-shape", "1,8,8",
                    "--repeats", "1",
                    "--rounds", "1", "--calibration", "0", "--out", str(tmp / "lat.json")],
        "export": ["export", str(model), "--out", str(tmp / "m.onnx"), "--json"],
    }  # fmt: skip


PRECISION_COMMANDS = ("search", "train", "oneshot", "proxies", "predict", "latency")


@pytest.mark.slow
@pytest.mark.parametrize("command", [*PRECISION_COMMANDS, "export"])
def test_every_command_runs_on_the_cpu_in_bf16(
    command: str, tmp_path: Path, saved_model: Path, digits_npz: Path
) -> None:
    if command == "export":
        pytest.importorskip("onnxruntime")
    args = _commands(tmp_path, saved_model, digits_npz)[command] + ["--device", "cpu"]
    if command in PRECISION_COMMANDS:
        args += ["--precision", "bf16"]
    code, stdout, stderr = _run(*args)
    assert code == 0, stderr
    if command == "search":
        config = _stored_config(tmp_path / "s.sqlite")
        train = config["evaluator"]["params"]["train"]
        assert (train["device"], train["precision"]) == ("cpu", "bf16")
    if command == "oneshot":
        assert json.loads(stdout)["precision"] == "bf16"
        assert _stored_config(tmp_path / "s.sqlite")["oneshot"]["device"] == "cpu"
    if command == "proxies":
        assert json.loads(stdout)["precision"] == "bf16"
    if command == "latency":
        machine = json.loads((tmp_path / "lat.json").read_text())["machine"]
        assert (machine["device"], machine["precision"]) == ("cpu", "bf16")


def _stored_config(store: Path) -> dict[str, object]:
    with sqlite3.connect(store) as connection:
        (text,) = connection.execute("SELECT config FROM experiments").fetchone()
    config = json.loads(text)
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "tpu"])
@pytest.mark.parametrize("command", [*PRECISION_COMMANDS, "export"])
def test_a_device_that_is_not_here_is_one_line_and_writes_nothing(
    command: str, device: str, tmp_path: Path
) -> None:
    model = tmp_path / "no-model"  # predict and export fail on the device first
    work = tmp_path / "work"
    work.mkdir()
    code, stdout, stderr = _run(
        *_commands(work, model, work / "x.npz")[command], "--device", device
    )
    assert code == 2, stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    expected = "unknown device 'tpu'" if device == "tpu" else "torch sees no CUDA GPU"
    assert expected in lines[0]
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("command", PRECISION_COMMANDS)
def test_an_unknown_precision_is_one_line(command: str, tmp_path: Path) -> None:
    args = _commands(tmp_path, tmp_path / "none", tmp_path / "x.npz")[command]
    code, _, stderr = _run(*args, "--precision", "fp8")
    assert code == 2
    assert stderr.strip() == (
        "nasforge: error: unknown precision 'fp8'; choose from auto, fp32, bf16, fp16"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_model_trained_in_bf16_predicts_after_loading_as_before_saving(tmp_path: Path) -> None:
    space, evaluator = training_evaluator(
        "digits",
        None,
        "nb201",
        {"channels": 4, "cells_per_stage": 1},
        {},
        epochs=1,
        threads=1,
        device="cpu",
        precision="bf16",
    )
    arch = space.parse(CELL)
    retrained = retrain(evaluator, arch, 1, with_validation=False)  # type: ignore[arg-type]
    assert retrained.report.precision == "bf16"
    task = evaluator.task  # type: ignore[attr-defined]
    retrained.model.eval()
    with torch.no_grad():
        before = torch.softmax(retrained.model(torch.tensor(task.x_test)), 1).numpy()
    folder = save_model(tmp_path / "m", space=space, arch=arch, model=retrained.model, task=task)
    loaded = load_model(folder, device="cpu")
    with torch.no_grad():
        after = torch.softmax(loaded.model(torch.tensor(task.x_test)), 1).numpy()
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert (after.argmax(1) == before.argmax(1)).all()


# -- several GPUs ----------------------------------------------------------------------------


def test_local_workers_take_one_gpu_each(tmp_path: Path) -> None:
    """Each worker process sees one GPU (its CUDA_VISIBLE_DEVICES), round-robin."""
    from nasforge.run.executor import Job
    from nasforge.run.process_executor import ProcessExecutor
    from parallel_helpers import VisibleGpu

    executor = ProcessExecutor(2, threads_per_worker=1, gpus=2)
    assert executor.placement == ["0", "1"]
    space = NB201Space()
    archs = [space.sample(np.random.default_rng(seed)) for seed in range(2)]
    executor.start(VisibleGpu(str(tmp_path), together=2))
    try:
        for number, arch in enumerate(archs):
            executor.submit(Job(number, arch, None))
        done = []
        while len(done) < len(archs):
            done += executor.wait()
    finally:
        executor.close()
    assert sorted(item.result.metrics["gpu"] for item in done) == [0.0, 1.0]


def test_cpu_workers_are_given_no_gpu() -> None:
    from nasforge.run.process_executor import ProcessExecutor

    assert ProcessExecutor(3, threads_per_worker=1).placement == ["cpu", "cpu", "cpu"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--executor", "ray", "--gpus-per-trial", "0.5"], "the Ray cluster has no GPU"),
        (["--gpus-per-trial", "1"], "--gpus-per-trial goes with --executor ray"),
        (["--executor", "ray", "--gpus-per-trial", "1", "--device", "cpu"], "use --device auto"),
        (["--executor", "ray", "--gpus-per-trial", "-1"], "must be a number >= 0"),
    ],
)
def test_gpus_per_trial_is_refused_in_one_line_where_it_cannot_work(
    args: list[str], message: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads its
        pytest.skip("needs Ray: pip install 'nasforge[ray]'")  # loopback setting at import
    code, stdout, stderr = _run(
        "search", "--budget", "1", "--epochs", "1", *TINY, "--store", str(tmp_path / "s.sqlite"),
        *args,
    )  # fmt: skip
    assert code == 2, stdout + stderr
    assert len(stderr.strip().splitlines()) == 1 and message in stderr
    assert list(tmp_path.iterdir()) == []


def test_a_search_stored_on_a_gpu_resumes_here_with_device_cpu(tmp_path: Path) -> None:
    """A search started on a GPU machine (its stored training device: cuda) is refused in one
    line where torch sees no GPU, and resumes with --device cpu --precision bf16."""
    store = tmp_path / "s.sqlite"
    args = ["search", "--budget", "1", "--epochs", "1", "--final-epochs", "0", *TINY,
            "--store", str(store), "--workers", "1", "--name", "gpu", "--json"]  # fmt: skip
    code, _, stderr = _run(*args)
    assert code == 0, stderr
    config = _stored_config(store)
    evaluator = config["evaluator"]
    assert isinstance(evaluator, dict)
    evaluator["params"]["train"]["device"] = "cuda"
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE experiments SET config = ?", (json.dumps(config),))
    resume = ["resume", "--name", "gpu", "--store", str(store), "--budget", "2", "--json"]
    code, _, stderr = _run(*resume)
    assert code == 2
    assert "torch sees no CUDA GPU" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = _run(*resume, "--device", "cpu", "--precision", "bf16")
    assert code == 0, stderr
    with sqlite3.connect(store) as connection:
        rows = connection.execute("SELECT info FROM trials ORDER BY number").fetchall()
        infos = [json.loads(info) for (info,) in rows]
    assert len(infos) == 2
    assert (infos[1]["device"], infos[1]["precision"]) == ("cpu", "bf16")
