"""`nasforge oneshot`: every method from the CLI on digits, export, lookup and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.cli.oneshot import METHOD_NAMES
from nasforge.data.task import stratified_split
from nasforge.evaluate import NB201Table
from nasforge.export import load_model
from nasforge.space import NB201Space

runner = CliRunner()
TINY = ["-s", "channels=4", "--threads", "1"]
QUICK = [*TINY, "--epochs", "1"]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["oneshot", *args])
    return result.exit_code, result.stdout, result.stderr


def _json(*args: str) -> dict[str, Any]:
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    payload: dict[str, Any] = json.loads(out, parse_constant=_no_constant)
    return payload


def _no_constant(name: str) -> None:
    raise AssertionError(f"--json printed {name}, which is not JSON")


def _error(*args: str) -> str:
    code, out, err = _run(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasforge: error: "), err
    return lines[0]


# -- every method -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "darts",
        "gdas",
        "enas",
        "spos",
        "beta-darts",
        "darts2",
    ],
)
def test_each_method_searches_one_epoch_and_prints_one_json_object(method: str) -> None:
    payload = _json("--method", method, *QUICK)
    space = NB201Space()
    arch = space.parse(payload["arch"])
    assert payload["arch"] == space.format(arch) and payload["arch"].startswith("|")
    assert payload["method"] == method and payload["epochs"] == 1 and payload["seconds"] > 0
    assert payload["space"] == {"name": "nb201", "params": {"channels": 4, "cells_per_stage": 1}}
    memory = payload["memory"]
    assert memory["batch_size"] == 64 and memory["total_bytes"] > memory["tensor_bytes"] > 0
    d = payload["diagnostics"]
    points = 10 if method == "spos" else 1  # SPOS: one point per generation of its evolution
    assert d["unit"] == ("generation" if method == "spos" else "epoch")
    assert len(d["archs"]) == len(d["skip_share"]) == len(d["entropy"]) == points
    assert 0 <= d["final_skip_share"] <= 1 and 0 <= d["final_entropy"] <= 1.61
    assert d["archs"][-1] == payload["arch"] or method == "enas"  # ENAS: best of samples
    assert 0 <= payload["child"]["test_accuracy"] <= 100 and payload["child"]["params"] > 0
    assert payload["finetune"] is None and payload["model_dir"] is None
    assert "benchmark" not in payload
    assert payload["retrain_command"].startswith(f"nasforge train '{payload['arch']}' --task")


def test_methods_in_the_help_are_the_registered_ones() -> None:
    from nasforge.oneshot import METHODS

    assert set(METHOD_NAMES) == set(METHODS)


def test_people_get_the_memory_estimate_first_and_a_summary() -> None:
    code, out, err = _run("--method", "gdas", *QUICK)
    assert code == 0, err
    assert err.startswith("Estimated peak memory of one gdas step: ")
    assert "at batch size 64" in err
    assert "gdas found |" in out and "child with inherited weights: test accuracy" in out
    assert "retrain from scratch: nasforge train '|" in out


def test_the_command_does_not_import_torch_before_it_runs() -> None:
    code = (
        "import sys; from nasforge.cli import app; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'oneshot' in [c.name or c.callback.__name__ for c in app.registered_commands]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- from search to a model -------------------------------------------------------------------


def test_out_saves_the_child_with_inherited_weights_that_predict_loads(tmp_path: Path) -> None:
    out = tmp_path / "child"
    payload = _json("--method", "darts", *TINY, "--epochs", "3", "--out", str(out))
    assert payload["model_dir"] == str(out)
    saved = load_model(out)
    assert saved.space.format(saved.arch) == payload["arch"]
    assert saved.metrics["test_accuracy"] == pytest.approx(payload["child"]["test_accuracy"])

    from sklearn.datasets import load_digits

    digits = load_digits()
    _, test_idx = stratified_split(digits.target, 0.2, 0)  # the digits task's test split
    np.savez(tmp_path / "raw.npz", x=digits.images[test_idx].astype(np.float32) / 16.0)
    result = runner.invoke(
        app, ["predict", str(out), "--data", str(tmp_path / "raw.npz"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    predictions = np.array(json.loads(result.stdout)["predictions"])
    accuracy = 100 * np.mean(predictions == digits.target[test_idx])
    assert accuracy == pytest.approx(payload["child"]["test_accuracy"], abs=0.3)


def test_finetune_trains_the_child_and_saves_it(tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    payload = _json(
        "--method", "gdas", *QUICK, "--finetune-epochs", "3", "--finetune-lr", "0.05",
        "--out", str(out),
    )  # fmt: skip
    tuned = payload["finetune"]
    assert tuned["epochs"] == 3 and tuned["test_accuracy"] > payload["child"]["test_accuracy"]
    saved = load_model(out)
    assert saved.metrics["test_accuracy"] == pytest.approx(tuned["test_accuracy"])
    assert saved.train_config is not None and saved.train_config["epochs"] == 3


def test_benchmark_looks_the_found_arch_up(nb201_csv_path: Path) -> None:
    payload = _json("--method", "darts", *QUICK, "--benchmark", str(nb201_csv_path))
    table = NB201Table.from_csv(nb201_csv_path)
    row = table.metrics(table.row_of(payload["arch"]))
    found = payload["benchmark"]
    assert found["test_accuracy"] == row["cifar10_test_acc"]
    assert found["valid_accuracy"] == row["cifar10_valid_acc"]
    assert found["params_m"] == row["params_m_cifar10"]


def test_partial_channels_search_reports_no_child() -> None:
    payload = _json("--method", "darts", *QUICK, "--partial-channels", "2")
    assert NB201Space().parse(payload["arch"])
    assert payload["child"] is None and payload["model_dir"] is None


def test_max_minutes_stops_after_a_whole_epoch() -> None:
    payload = _json("--method", "gdas", *TINY, "--epochs", "5", "--max-minutes", "1e-9")
    assert payload["epochs"] == 1 and payload["stopped"].startswith("time limit")


# -- bad input --------------------------------------------------------------------------------


def test_space_without_op_choices() -> None:
    line = _error("--space", "mlp", "--epochs", "1")
    assert "space 'mlp' has no op choices" in line


def test_memory_limit_too_small_names_a_smaller_batch_or_partial_channels() -> None:
    line = _error("--method", "darts", *QUICK, "--memory-limit-mb", "1")
    assert "darts needs about" in line and "more than the limit (1.0 MB)" in line
    assert "batch_size=" in line or "partial_channels=" in line


def test_data_too_small_to_split(tmp_path: Path) -> None:
    line = _error("--method", "enas", *QUICK, "--batch-size", "1000")
    assert "each half of the bilevel split" in line and "use batch_size <=" in line
    rng = np.random.default_rng(0)
    tiny = tmp_path / "tiny.npz"
    np.savez(
        tiny,
        x_train=rng.integers(0, 255, (100, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(100) % 10,
        x_test=rng.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(10),
    )
    line = _error("--method", "spos", *QUICK, "--task", "cifar10", "--data", str(tiny))
    assert "task 'cifar10' has 90 training examples" in line and "batch_size <= 22" in line


def test_unknown_method_and_other_bad_options(tmp_path: Path) -> None:
    assert "unknown one-shot method 'nope'; choose from darts, darts2" in _error("--method", "nope")
    assert "--epochs and --batch-size must be >= 1" in _error("--epochs", "0")
    assert "--memory-limit-mb must be a number > 0" in _error("--memory-limit-mb", "0")
    assert "the child cannot inherit" in _error(
        "--partial-channels", "2", "--out", str(tmp_path / "m")
    )
    assert "drop partial_channels" in _error("--method", "spos", *QUICK, "--partial-channels", "2")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "exists and is not empty" in _error("--out", str(tmp_path / "full"))
    assert "unknown search space 'nb999'" in _error("--space", "nb999")
    assert "covers space nb201" in _error("--space", "mlp", "--benchmark", "x.csv")


def test_method_options_reach_the_method() -> None:
    """Warm-up of the whole search takes no architecture step; an excluded op is in neither
    the found arch nor any epoch's argmax."""
    plain = _json("--method", "darts", *QUICK, "-o", "warmup_epochs=1")
    assert plain["diagnostics"]["arch_loss"] == [None]  # no architecture step was taken
    without_none = _json(
        "--method", "darts", *QUICK, "-o", "warmup_epochs=1", "-o", "exclude_ops=none"
    )
    assert "none~" not in without_none["arch"]
    assert all("none~" not in arch for arch in without_none["diagnostics"]["archs"])


def test_bad_method_options_name_the_valid_ones() -> None:
    line = _error("--method", "gdas", *QUICK, "-o", "tau=3")
    assert "method 'gdas' has no option tau; its options: add_unselected, affine," in line
    assert "tau_max" in line and "warmup_epochs" in line
    assert "method option arch_lr must be a number, not 'fast'" in _error(
        "--method", "darts", *QUICK, "-o", "arch_lr=fast"
    )
    assert "method option must read KEY=VALUE" not in _error(
        "--method", "darts", *QUICK, "-o", "arch_lr"
    )
    assert "cannot exclude 'conv_7x7'" in _error(
        "--method", "darts", *QUICK, "-o", "exclude_ops=conv_7x7"
    )
