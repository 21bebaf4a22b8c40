"""Opening a store or a model folder never runs code that it names, unless the user says so.

Every test plants a space file whose import writes a marker file (its own path), names it
from an artifact in the three ways an artifact can (an absolute path, a path relative to the
artifact, ``module:CLASS``), and runs a command on the artifact: the marker is never written
without consent; with ``--trust-space-code`` the commands that rebuild a network work, and
import the recorded file (the one beside the artifact for a relative path, never the one in
the current directory); the commands that only read never import.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import NasforgeError
from nasforge.export import load_model
from nasforge.space.stored import SpaceConsentError

runner = CliRunner()
MARKER_ENV = "NASFORGE_TEST_SPACE_MARKER"
MODULE = "planted_space_mod"
PLANTED = f"""
import os
from pathlib import Path

from torch import nn

Path(os.environ["{MARKER_ENV}"]).write_text(__file__)


class Net(nn.Module):
    def __init__(self, choices, input_shape, num_classes):
        super().__init__()
        width = choices.choose_value("width", [8, 16])
        inputs = 1
        for size in input_shape:
            inputs *= size
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(inputs, width), nn.ReLU())
        self.extra = choices.repeat(
            "depth",
            [1, 2],
            lambda i: nn.Sequential(
                nn.Linear(width, width),
                choices.choose_module(f"act_{{i}}", {{"relu": nn.ReLU, "tanh": nn.Tanh}}),
            ),
        )
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.extra(self.body(x)))
"""
DECOY = PLANTED.replace("write_text(__file__)", 'write_text("DECOY " + __file__)')
FORMS = ("absolute", "relative", "module")
TIMESTAMP = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?"


@dataclass(frozen=True)
class Artifacts:
    """A store and a model folder of the planted space, each naming it in one `form`."""

    form: str
    store: Path
    model: Path
    store_code: Path  # the file the store names (what --trust-space-code imports)
    model_code: Path  # the file the model folder names
    inputs: Path


def _forget_planted() -> None:
    for name in [n for n in sys.modules if n.startswith("nasforge_user_space_") or n == MODULE]:
        del sys.modules[name]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Artifacts]]:
    """One real search of the planted space (10 trials, 1 epoch each, the winner retrained
    and saved), then copies of its store and model folder naming the space in each form."""
    root = tmp_path_factory.mktemp("consent")
    planted = root / "planted.py"
    planted.write_text(PLANTED)
    marker = root / "made.marker"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MARKER_ENV, str(marker))
        code, stdout, stderr = _run(
            *("search", "--space", f"{planted}:Net", "--strategy", "random", "--budget", "10"),
            *("--epochs", "1", "--final-epochs", "1", "--workers", "1", "--threads", "1"),
            *("--store", str(root / "s.sqlite"), "--out", str(root / "model"), "--json"),
        )
    assert code == 0, stderr
    assert Path(json.loads(stdout)["final"]["model_dir"]) == root / "model", stdout
    assert marker.read_text() == str(planted)
    _forget_planted()
    inputs = root / "x.npy"
    np.save(inputs, np.random.default_rng(0).random((4, 8, 8)).astype(np.float32))
    artifacts = {
        "absolute": Artifacts(
            "absolute", root / "s.sqlite", root / "model", planted, planted, inputs
        )
    }
    for form, name in (("relative", "planted.py:Net"), ("module", f"{MODULE}:Net")):
        folder = root / form
        (folder / "code").mkdir(parents=True)
        store, model = folder / "s.sqlite", folder / "model"
        shutil.copy(root / "s.sqlite", store)
        shutil.copytree(root / "model", model)
        if form == "relative":  # the file beside each artifact, resolved against its folder
            store_code, model_code = folder / "planted.py", model / "planted.py"
            shutil.copy(planted, store_code)
            shutil.copy(planted, model_code)
        else:
            store_code = model_code = folder / "code" / f"{MODULE}.py"
            shutil.copy(planted, store_code)
        _rename_space(store, model, name)
        artifacts[form] = Artifacts(form, store, model, store_code, model_code, inputs)
    yield artifacts


def _rename_space(store: Path, model: Path, name: str) -> None:
    with sqlite3.connect(store) as db:
        (config_text,) = db.execute("SELECT config FROM experiments").fetchone()
        config = json.loads(config_text)
        config["space"]["name"] = name
        db.execute("UPDATE experiments SET config = ?", (json.dumps(config, sort_keys=True),))
    record = json.loads((model / "arch.json").read_text())
    record["space"]["name"] = name
    (model / "arch.json").write_text(json.dumps(record))


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: dict[str, Artifacts]) -> Path:
    """The marker an import of the planted file writes; the current directory holds a decoy
    planted.py (an artifact's relative path must never reach it), and the module form's
    folder is importable."""
    path = tmp_path / "imported.marker"
    monkeypatch.setenv(MARKER_ENV, str(path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "planted.py").write_text(DECOY)
    monkeypatch.syspath_prepend(str(made["module"].model_code.parent))
    _forget_planted()
    yield path
    _forget_planted()


def _nothing_imported(marker: Path) -> None:
    assert not marker.exists(), f"imported {marker.read_text()}"
    assert not [n for n in sys.modules if n.startswith("nasforge_user_space_") or n == MODULE]


def _refused(args: list[str], marker: Path, named: Path | str) -> str:
    code, stdout, stderr = _run(*args)
    assert code == 2, (code, stdout, stderr)
    (line,) = stderr.strip().splitlines()
    assert "--trust-space-code" in line and "--space PATH.py:CLASS" in line
    assert str(named) in line
    _nothing_imported(marker)
    return line


def _named(artifacts: Artifacts) -> str:
    """What a model folder's refusal names: the file (resolved against the folder) or the
    module."""
    return MODULE if artifacts.form == "module" else str(artifacts.model_code)


# -- what rebuilds a network: refused without consent, works with it -----------------------


@pytest.mark.parametrize("form", FORMS)
def test_predict_imports_only_with_consent(
    form: str, made: dict[str, Artifacts], marker: Path
) -> None:
    artifacts = made[form]
    args = ["predict", str(artifacts.model), "--data", str(artifacts.inputs), "--json"]
    _refused(args, marker, _named(artifacts))
    code, stdout, stderr = _run(*args, "--trust-space-code")
    assert code == 0, stderr
    assert len(json.loads(stdout)["predictions"]) == 4
    assert marker.read_text() == str(artifacts.model_code)  # the recorded file, not the decoy
    assert f"importing {_named(artifacts)}" in stderr and "--trust-space-code" in stderr


@pytest.mark.parametrize("form", FORMS)
def test_load_model_imports_only_with_consent(
    form: str, made: dict[str, Artifacts], marker: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    artifacts = made[form]
    with pytest.raises(SpaceConsentError, match="trust_space_code=True"):
        load_model(artifacts.model)
    _nothing_imported(marker)
    loaded = load_model(artifacts.model, trust_space_code=True)
    assert loaded.space.name == "Net"
    assert marker.read_text() == str(artifacts.model_code)
    assert "importing" in capfd.readouterr().err


@pytest.mark.parametrize("form", FORMS)
def test_export_imports_only_with_consent(
    form: str, made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime", reason="export needs nasforge[onnx]")
    artifacts = made[form]
    out = tmp_path / "model.onnx"
    args = ["export", str(artifacts.model), "--out", str(out), "--json"]
    _refused(args, marker, _named(artifacts))
    assert not out.exists()
    code, stdout, stderr = _run(*args, "--trust-space-code")
    assert code == 0, stderr
    assert out.is_file() and json.loads(stdout)["same_predictions"] == 1.0
    assert marker.read_text() == str(artifacts.model_code)


@pytest.mark.parametrize("form", FORMS)
def test_resume_imports_only_with_consent(
    form: str, made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    artifacts = made[form]
    folder = tmp_path / "copy"
    folder.mkdir()
    store = folder / "s.sqlite"
    shutil.copy(artifacts.store, store)
    code_file = artifacts.store_code
    if form == "relative":  # resolved against the store's folder, never the current one
        code_file = folder / "planted.py"
        shutil.copy(artifacts.store_code, code_file)
    before = store.read_bytes()
    args = ["resume", "--store", str(store), "--budget", "11", "--final-epochs", "0", "--json"]
    _refused(args, marker, MODULE if form == "module" else code_file)
    assert store.read_bytes() == before  # nothing written
    code, stdout, stderr = _run(*args, "--trust-space-code")
    assert code == 0, stderr
    assert json.loads(stdout)["trials"] == 11
    assert marker.read_text() == str(code_file)


def test_trusting_a_recorded_file_that_does_not_exist_is_one_line(
    made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(made["absolute"].model, model)
    _rename_space_file(model, str(tmp_path / "gone.py") + ":Net")
    args = ["predict", str(model), "--data", str(made["absolute"].inputs), "--trust-space-code"]
    code, _, stderr = _run(*args)
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert f"{tmp_path / 'gone.py'}, does not exist" in line and "--space" in line
    _nothing_imported(marker)


def _rename_space_file(model: Path, name: str) -> None:
    record = json.loads((model / "arch.json").read_text())
    record["space"]["name"] = name
    (model / "arch.json").write_text(json.dumps(record))


# -- what only reads: never imports, with or without consent ---------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_reading_commands_never_import(
    form: str, made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    store = str(made[form].store)
    code, stdout, stderr = _run("best", "--store", store, "--json")
    assert code == 0, stderr
    best = json.loads(stdout)
    assert "width=" in best["best"]["arch"]
    code, stdout, stderr = _run("status", "--store", store, "--json")
    assert code == 0 and json.loads(stdout)["experiments"][0]["evaluated"] == 10, stderr
    code, stdout, stderr = _run("importance", "--store", store, "--json")
    assert code == 0, stderr
    labels = {row["label"] for row in json.loads(stdout)["decisions"]}
    assert labels == {"width", "depth", "act_0", "act_1"}
    code, stdout, stderr = _run("explain", "--store", store, "--json")
    assert code == 0, stderr
    report = tmp_path / "report.html"
    code, _, stderr = _run("report", "--store", store, "--out", str(report))
    assert code == 0, stderr
    assert "width=" in report.read_text()
    _nothing_imported(marker)


@pytest.mark.parametrize("form", FORMS)
def test_dashboard_pages_never_import(form: str, made: dict[str, Artifacts], marker: Path) -> None:
    from nasforge.report.dashboard import make_dashboard

    served = make_dashboard(made[form].store, port=0)
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        name = _experiment_name(made[form].store)
        for path in (
            "/",
            "/api/experiments",
            f"/experiments/{name}",
            f"/experiments/{name}/sections",
            f"/api/experiments/{name}/version",
        ):
            with urllib.request.urlopen(served.url.rstrip("/") + path, timeout=60) as response:
                assert response.status == 200, path
                page = response.read().decode()
            if path.endswith("/sections"):
                assert "width=" in page and "cannot rebuild the space" not in page
    finally:
        served.shutdown()
        served.server_close()
        thread.join()
    _nothing_imported(marker)


def _experiment_name(store: Path) -> str:
    with sqlite3.connect(store) as db:
        (name,) = db.execute("SELECT name FROM experiments").fetchone()
    return str(name)


# -- every field that could name code ---------------------------------------------------------


def _string_leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _string_leaves(item, (*path, index))
    elif isinstance(value, str):
        yield path


def _planted_at(value: Any, path: tuple[Any, ...], text: str) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = text
    return copy


def test_no_field_of_arch_json_imports_code_without_consent(
    made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    """Each string of arch.json in turn replaced by the planted module's spec: loading the
    folder (and predicting with it) imports nothing; only the space's name needs consent."""
    source = made["absolute"].model
    record = json.loads((source / "arch.json").read_text())
    leaves = list(_string_leaves(record))
    assert ("space", "name") in leaves and len(leaves) > 5
    for leaf in leaves:
        model = tmp_path / "-".join(map(str, leaf))
        shutil.copytree(source, model)
        (model / "arch.json").write_text(json.dumps(_planted_at(record, leaf, f"{MODULE}:Net")))
        with pytest.raises(NasforgeError) if leaf == ("space", "name") else _maybe_error():
            load_model(model).predict(np.zeros((1, 8, 8), np.float32))
        _nothing_imported(marker)


@pytest.mark.slow
def test_no_field_of_a_stored_experiment_imports_code_without_consent(
    made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    """Each string of the stored experiment's config in turn replaced by the planted
    module's spec: best, status, importance, the report and resume import nothing."""
    source = made["absolute"].store
    with sqlite3.connect(source) as db:
        (config_text,) = db.execute("SELECT config FROM experiments").fetchone()
    config = json.loads(config_text)
    leaves = list(_string_leaves(config))
    assert ("space", "name") in leaves and ("strategy", "name") in leaves
    assert ("evaluator", "name") in leaves
    for number, leaf in enumerate(leaves):
        store = tmp_path / f"s{number}.sqlite"
        shutil.copy(source, store)
        with sqlite3.connect(store) as db:
            planted = _planted_at(config, leaf, f"{MODULE}:Net")
            db.execute("UPDATE experiments SET config = ?", (json.dumps(planted),))
        for command in ("best", "status", "importance"):
            _run(command, "--store", str(store), "--json")
        _run("report", "--store", str(store), "--out", str(tmp_path / "r.html"))
        _run("resume", "--store", str(store), "--final-epochs", "0", "--json")
        _nothing_imported(marker)


class _maybe_error:
    """A context that lets a `NasforgeError` (a malformed field) pass and nothing else."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, NasforgeError)


def test_the_report_shows_what_it_showed_when_it_imported_the_space(
    made: dict[str, Artifacts], marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTML report of a user-space experiment (settings, trials, importance, the
    explanation) is the same from the recorded description as from the imported space."""
    from nasforge.report.content import report_content
    from nasforge.report.html import render_report
    from nasforge.run.storage import Store
    from nasforge.space import make_space

    store = made["absolute"].store
    name = _experiment_name(store)
    with Store(store, read_only=True) as journal:
        after = render_report(report_content(journal, name))
    _nothing_imported(marker)

    def importing(config: dict[str, Any]) -> Any:  # what reading did before
        return make_space(config["name"], **config.get("params", {}))

    monkeypatch.setattr("nasforge.report.content.read_space", importing)
    monkeypatch.setattr("nasforge.run.scored_trials.read_space", importing)
    with Store(store, read_only=True) as journal:
        before = render_report(report_content(journal, name))
    assert marker.read_text() == str(made["absolute"].store_code)  # that imported the file
    assert 'id="importance"' in after and "act_1" in after
    assert re.sub(TIMESTAMP, "", before) == re.sub(TIMESTAMP, "", after)


def test_a_store_from_before_descriptions_is_read_without_importing_and_upgraded_on_resume(
    made: dict[str, Artifacts], marker: Path, tmp_path: Path
) -> None:
    store = tmp_path / "old" / "s.sqlite"
    store.parent.mkdir()
    shutil.copy(made["absolute"].store, store)
    with sqlite3.connect(store) as db:
        (config_text,) = db.execute("SELECT config FROM experiments").fetchone()
        config = json.loads(config_text)
        del config["space"]["recorded"]
        db.execute("UPDATE experiments SET config = ?", (json.dumps(config),))
    report = tmp_path / "r.html"
    code, _, stderr = _run("report", "--store", str(store), "--out", str(report))
    assert code == 0, stderr
    assert "older nasforge" in report.read_text()
    code, _, stderr = _run("best", "--store", str(store))
    assert code == 2 and "older nasforge" in stderr and len(stderr.strip().splitlines()) == 1
    _nothing_imported(marker)
    args = ["resume", "--store", str(store), "--final-epochs", "0", "--trust-space-code"]
    code, _, stderr = _run(*args)
    assert code == 0, stderr
    _forget_planted()
    marker.unlink()
    code, stdout, stderr = _run("best", "--store", str(store), "--json")
    assert code == 0 and "width=" in json.loads(stdout)["best"]["arch"], stderr
    _nothing_imported(marker)
