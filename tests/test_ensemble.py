"""Ensembles of the best (`--ensemble K`): the members are the K best distinct archs by
validation (or chosen by forward selection), retrained; their saved folder is one model that
predicts their averaged probabilities, before and after saving and in onnxruntime; loading it
runs no code without consent; bad ensemble sizes are refused before anything is written."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data import load_digits_task
from nasforge.errors import ConfigError
from nasforge.evaluate.ensemble import (
    check_ensemble,
    check_selection_fits,
    class_probabilities,
    forward_selection,
    retrain_ensemble,
)
from nasforge.evaluate.training import TrainingEvaluator
from nasforge.export import EnsembleNet, load_model
from nasforge.export.onnx import export_onnx
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.final_ensemble import save_retrained_ensemble
from nasforge.space import make_space
from nasforge.space.stored import SpaceConsentError
from nasforge.strategy import make_strategy
from nasforge.training import TrainConfig

runner = CliRunner()
MARKER_ENV = "NASFORGE_TEST_ENSEMBLE_MARKER"
PLANTED = f"""
import os
from pathlib import Path

from torch import nn

Path(os.environ["{MARKER_ENV}"]).write_text(__file__)


class Net(nn.Module):
    def __init__(self, choices, input_shape, num_classes):
        super().__init__()
        width = choices.choose_value("width", [8, 16, 32])
        act = choices.choose_module("act", {{"relu": nn.ReLU, "tanh": nn.Tanh}})
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, width), act)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_ensemble_net_gives_the_mean_of_its_members_probabilities() -> None:
    torch.manual_seed(0)
    members = [torch.nn.Sequential(torch.nn.Linear(5, 3)) for _ in range(3)]
    with torch.no_grad():
        members[2][0].weight.mul_(50.0)  # a member that is sure: probabilities near 0 and 1
    x = torch.randn(40, 5)
    out = EnsembleNet(members)(x)
    expected = torch.stack([torch.softmax(m(x), dim=1) for m in members]).mean(0)
    torch.testing.assert_close(torch.softmax(out, dim=1), expected, atol=1e-6, rtol=0)
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleNet([])


def test_forward_selection_prefers_a_member_that_fixes_the_best_ones_errors() -> None:
    y = np.array([0, 0, 1, 1])
    sure, unsure = 0.9, 0.6
    best = np.array([[sure, 1 - sure]] * 2 + [[unsure, 1 - unsure], [1 - sure, sure]])
    twin = best.copy()  # the second best by itself: the same errors
    twin[0] = [unsure, 1 - unsure]
    other = np.array([[unsure, 1 - unsure], [0.4, 0.6], [0.05, 0.95], [0.4, 0.6]])
    probabilities = [p.astype(np.float32) for p in (best, twin, other)]
    assert forward_selection(probabilities, y, 2) == [0, 2]  # not the top 2: [0, 1]
    assert forward_selection(probabilities, y, 1) == [0]
    with pytest.raises(ConfigError, match="cannot choose 4 of 3"):
        forward_selection(probabilities, y, 4)


@pytest.mark.parametrize(
    ("k", "selection", "available", "message"),
    [
        (0, "top", None, "--ensemble must be >= 1"),
        (-2, "top", None, "--ensemble must be >= 1"),
        (2, "best", None, "unknown ensemble selection 'best'"),
        (4, "top", 3, "needs 4 distinct evaluated architectures, but the search has 3"),
    ],
)
def test_bad_ensembles_are_refused(
    k: int, selection: str, available: int | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_ensemble(k, selection, available=available)


@pytest.mark.slow
def test_an_ensemble_of_the_best_predicts_the_mean_before_and_after_saving_and_in_onnx(
    tmp_path: Path,
) -> None:
    space = make_space("mlp", max_layers=2, widths=[16, 32], dropouts=[0.0], norms=["none"])
    task = load_digits_task(seed=0)
    evaluator = TrainingEvaluator(
        space, task, train_config=TrainConfig(epochs=1, threads=1, lr=0.05), seed=0
    )
    result = Experiment(
        space, make_strategy("random", space, seed=0), evaluator, budget=Budget(queries=4)
    ).run()
    ranked = result.distinct_ranked(space)
    scores = {t.arch: t.score for t in result.trials if t.score is not None}
    assert len({space.canonical(a) for a in ranked}) == len(ranked) >= 2
    by_score = sorted(scores.values(), reverse=True)
    # the K best distinct archs by validation, best first
    assert [scores[str(a)] for a in ranked] == sorted(
        [scores[str(a)] for a in ranked], reverse=True
    )
    assert scores[str(ranked[0])] == by_score[0]
    ensemble = retrain_ensemble(evaluator, ranked, 2, 1, with_validation=True)
    assert ensemble.archs == tuple(ranked[:2]) and len(set(ensemble.archs)) == 2
    members = [m.model.eval() for m in ensemble.members]
    mean = np.mean([class_probabilities(m, task.x_test) for m in members], axis=0)
    expected_accuracy = 100.0 * np.mean(mean.argmax(axis=1) == task.y_test)
    assert ensemble.test_accuracy == pytest.approx(expected_accuracy)
    before = class_probabilities(EnsembleNet(members), task.x_test)
    np.testing.assert_allclose(before, mean, atol=1e-5)

    final = save_retrained_ensemble(space, evaluator, ensemble, tmp_path / "model")
    assert final["ensemble"] == 2 and len(final["members"]) == 2
    assert final["test_accuracy"] == ensemble.test_accuracy
    record = json.loads((tmp_path / "model" / "arch.json").read_text())
    assert [m["arch_text"] for m in record["members"]] == [str(a) for a in ranked[:2]]
    loaded = load_model(tmp_path / "model")
    assert loaded.is_ensemble and loaded.members == tuple(ranked[:2])
    raw = task.x_test * task.std.reshape(1, -1, 1, 1) + task.mean.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(loaded.predict_proba(raw), mean, atol=1e-5)
    assert loaded.metrics["test_accuracy"] == pytest.approx(ensemble.test_accuracy)

    pytest.importorskip("onnxruntime", reason="export needs nasforge[onnx]")
    import onnxruntime

    exported = export_onnx(loaded, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    _, probabilities = session.run(None, {"x": raw.astype(np.float32)})
    np.testing.assert_allclose(probabilities, mean, atol=1e-5)


def test_forward_selection_retrains_twice_k_and_chooses_k_distinct(tmp_path: Path) -> None:
    space = make_space("mlp", max_layers=1, widths=[16, 32, 64], dropouts=[0.0], norms=["none"])
    task = load_digits_task(seed=0)
    evaluator = TrainingEvaluator(
        space, task, train_config=TrainConfig(epochs=1, threads=1), seed=0
    )
    ranked = [space.sample(np.random.default_rng(s)) for s in range(12)]
    ranked = list({space.canonical(a): a for a in ranked}.values())[:4]
    ensemble = retrain_ensemble(evaluator, ranked, 2, 1, selection="forward", with_validation=False)
    assert ensemble.pool == tuple(ranked) and len(set(ensemble.archs)) == 2
    valid = [class_probabilities(m.model, task.x_valid) for m in ensemble.members]
    assert ensemble.valid_accuracy == pytest.approx(
        100.0 * np.mean(np.mean(valid, axis=0).argmax(axis=1) == task.y_valid)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ensemble", "0"], "--ensemble must be >= 1 (1: the winner alone), not 0"),
        (["--ensemble", "5", "--budget", "3"], "--budget 3 evaluates at most 3"),
        (["--ensemble", "2", "--ensemble-selection", "best"], "unknown ensemble selection"),
        (["--ensemble", "2", "--final-epochs", "0"], "give --final-epochs > 0"),
        (["--final-data", "valid"], "unknown --final-data 'valid'; choose from all, train"),
        (
            ["--ensemble", "2", "--ensemble-selection", "forward", "--final-data", "all"],
            "give --final-data train, or --ensemble-selection top",
        ),
    ],
)
def test_a_bad_ensemble_is_refused_before_the_search(
    args: list[str], message: str, tmp_path: Path
) -> None:
    store, out = tmp_path / "s.sqlite", tmp_path / "model"
    code, stdout, stderr = _run(
        *("search", "--space", "mlp", "--budget", "4", "--epochs", "1"),
        *("--store", str(store), "--out", str(out), *args),
    )
    assert code == 2, stdout + stderr
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert not store.exists() and not out.exists()


@pytest.mark.slow
def test_an_ensemble_search_reports_every_member_and_loads_only_with_consent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search of a user's space (6 archs) with --ensemble 3: the output, the store and the
    report give each member's and the ensemble's test accuracy; the folder is one model that
    imports the space's code only with consent; --ensemble 7 is refused after the search,
    saying how many archs there are, with no model written, and resume saves a smaller one."""
    planted = tmp_path / "planted.py"
    planted.write_text(PLANTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "search.marker"))
    common = [
        *("search", "--space", f"{planted}:Net", "--strategy", "grid", "--budget", "8"),
        *("--epochs", "1", "--final-epochs", "1", "--workers", "1", "--threads", "1"),
    ]
    code, stdout, stderr = _run(*common, "--ensemble", "7", "--out", "big", "--store", "big.sqlite")
    assert code == 2, stdout + stderr
    assert "needs 7 distinct evaluated architectures, but the search has 6" in stderr
    assert not Path("big").exists()
    code, stdout, stderr = _run(
        "resume", "--store", "big.sqlite", "--ensemble", "2", "--trust-space-code", "--json"
    )
    assert code == 0, stderr  # nothing lost: the trials stay, a smaller ensemble is saved
    assert json.loads(stdout)["final"]["ensemble"] == 2 and Path("big/arch.json").is_file()
    code, _, stderr = _run("resume", "--store", "big.sqlite", "--ensemble", "0")
    assert code == 2 and "--ensemble must be >= 1" in stderr
    code, stdout, stderr = _run(*common, "--ensemble", "3", "--out", "model", "--json")
    assert code == 0, stderr
    final = json.loads(stdout)["final"]
    assert final["ensemble"] == 3 and final["model_dir"] == "model"
    assert len({m["arch"] for m in final["members"]}) == 3
    assert all(0 <= m["test_accuracy"] <= 100 for m in final["members"])
    (config,) = sqlite3.connect("nasforge.sqlite").execute("SELECT config FROM experiments")
    stored = json.loads(config[0])["final"]
    assert stored["members"] == final["members"]
    assert stored["test_accuracy"] == final["test_accuracy"]
    assert _run("report", "--out", "r.html")[0] == 0
    html = Path("r.html").read_text()
    assert "The retrained ensemble" in html and "ensemble of 3 (top selection)" in html
    assert "member 3" in html

    for name in [n for n in sys.modules if n.startswith("nasforge_user_space_")]:
        del sys.modules[name]
    marker = tmp_path / "load.marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    with pytest.raises(SpaceConsentError, match="trust_space_code=True"):
        load_model("model")
    np.save("x.npy", np.random.default_rng(0).random((4, 8, 8)).astype(np.float32))
    code, _, stderr = _run("predict", "model", "--data", "x.npy", "--json")
    assert code == 2 and "--trust-space-code" in stderr
    assert not marker.exists()
    loaded = load_model("model", trust_space_code=True)
    assert loaded.is_ensemble and len(loaded.members) == 3
    assert marker.read_text() == str(planted)
    code, stdout, stderr = _run(
        "predict", "model", "--data", "x.npy", "--json", "--trust-space-code"
    )
    assert code == 0, stderr
    assert len(json.loads(stdout)["predictions"]) == 4


def test_forward_selection_is_refused_when_the_retrain_trains_on_the_validation_split() -> None:
    space = make_space("mlp", max_layers=1, widths=[16], dropouts=[0.0], norms=["none"])
    for task in (
        load_digits_task(seed=0),
        dataclasses.replace(load_digits_task(seed=0), valid_groups=("speaker_a",)),
    ):
        evaluator = TrainingEvaluator(space, task, train_config=TrainConfig(epochs=1), seed=0)
        with pytest.raises(ConfigError, match="give --final-data train"):
            check_selection_fits(evaluator, 2, "forward", with_validation=True)
        check_selection_fits(evaluator, 2, "forward", with_validation=False)
        check_selection_fits(evaluator, 2, "top", with_validation=True)
        # one member: nothing to choose
        check_selection_fits(evaluator, 1, "forward", with_validation=True)
