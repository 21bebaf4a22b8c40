"""Resume as search (issue 35): a resumed search keeps every stored setting, refuses to
overwrite a saved model, shows the experiment's best; the retrained winner's test accuracy
is recorded and shown by status, best and the report; status has a task column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.settings import SEARCH_DEFAULTS, resumed_settings
from nasforge.run.storage import Store

runner = CliRunner()
TRAIN = ["--epochs", "1", "--workers", "1", "--threads", "1", "-s", "channels=4"]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _ok(*args: str) -> dict[str, Any]:
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    payload: dict[str, Any] = json.loads(out)
    return payload


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A finished training search on digits, its winner retrained for 1 epoch."""
    folder = tmp_path_factory.mktemp("trained")
    store = folder / "s.sqlite"
    payload = _ok(
        "search", "--budget", "2", *TRAIN, "--final-epochs", "1", "--store", str(store),
        "--name", "t", "--out", str(folder / "model"),
    )  # fmt: skip
    return store, payload


def _copy(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(store, copy)
    return copy


@pytest.mark.slow
def test_search_stores_its_settings_and_the_retrained_winner(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    store, payload = trained
    with Store(store) as journal:
        config = journal.experiment("t").config
    settings = config["settings"]
    assert settings["final_epochs"] == 1 and settings["out"] == payload["final"]["model_dir"]
    assert set(settings) == set(SEARCH_DEFAULTS)
    assert config["final"]["test_accuracy"] == payload["final"]["test_accuracy"]
    assert config["final"]["trial"] == payload["best"]["number"]


@pytest.mark.slow
def test_resume_refuses_to_overwrite_the_saved_model(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    store = _copy(trained[0], tmp_path)
    model = Path(trained[1]["final"]["model_dir"])
    before = (model / "metrics.json").read_bytes()
    code, out, err = _run("resume", "--store", str(store), "--budget", "3")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert f"output folder {model} exists and is not empty; choose another --out" in line
    assert (model / "metrics.json").read_bytes() == before
    with Store(store) as journal:
        assert len(journal.trials(journal.experiment("t").id)) == 2  # nothing ran


@pytest.mark.slow
def test_resume_retrains_with_the_stored_final_epochs_into_a_new_folder(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    store = _copy(trained[0], tmp_path)
    resumed = _ok("resume", "--store", str(store), "--budget", "3", "--out", str(tmp_path / "m2"))
    assert resumed["trials"] == 3
    assert resumed["final"]["epochs"] == 1  # as the search said, not the default 30
    assert resumed["final"]["model_dir"] == str(tmp_path / "m2")
    with Store(store) as journal:
        config = journal.experiment("t").config
    assert config["settings"]["out"] == str(tmp_path / "m2")  # the next resume's default
    assert config["final"]["test_accuracy"] == resumed["final"]["test_accuracy"]


@pytest.mark.slow
def test_status_best_and_report_show_the_retrained_test_accuracy(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    store, payload = trained
    accuracy = payload["final"]["test_accuracy"]
    (row,) = _ok("status", "--store", str(store))["experiments"]
    assert row["final_test_accuracy"] == accuracy and row["task"] == "digits"
    code, out, _ = _run("status", "--store", str(store))
    assert code == 0 and "test acc" in out and f"{accuracy:.2f}" in out and "digits" in out
    best = _ok("best", "--store", str(store))
    assert best["final"]["test_accuracy"] == accuracy
    code, out, _ = _run("best", "--store", str(store))
    assert code == 0 and f"test accuracy {accuracy:.2f}%" in out
    page = tmp_path / "report.html"
    code, _, err = _run("report", "--store", str(store), "--out", str(page))
    assert code == 0, err
    html = page.read_text()
    assert 'id="final"' in html and f"{accuracy:.2f}%" in html


def test_resume_of_a_table_search_keeps_its_stored_settings(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    common = ["--store", str(store), "--name", "b"]
    _ok("search", "--benchmark", str(nb201_csv_path), "--budget", "5", "--top", "2", *common)
    with Store(store) as journal:
        assert journal.experiment("b").config["settings"]["top"] == 2
    code, out, err = _run("resume", "--budget", "8", *common)
    assert code == 0, err
    assert "top 2 of 8 evaluated" in out  # the stored --top, not the default 10


def test_resume_shows_the_best_of_the_experiment_not_only_of_this_run(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    common = ["--store", str(store), "--name", "b"]
    first = _ok("search", "--benchmark", str(nb201_csv_path), "--budget", "30", *common)
    code, _, err = _run("resume", "--budget", "31", *common)
    assert code == 0, err
    best = _ok("best", *common)["best"]["score"]
    assert best >= first["best"]["score"]
    assert f"31 evaluated · best {best:.2f}" in err


def test_an_old_store_without_settings_resumes_and_shows_its_status(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    common = ["--store", str(store), "--name", "old"]
    _ok("search", "--benchmark", str(nb201_csv_path), "--budget", "5", *common)
    with Store(store) as journal:
        record = journal.experiment("old")
        journal.update_config(
            record.id, {k: v for k, v in record.config.items() if k != "settings"}
        )
    assert _ok("resume", "--budget", "7", *common)["trials"] == 7
    (row,) = _ok("status", "--store", str(store))["experiments"]
    assert (row["task"], row["state"], row["final_test_accuracy"]) == (
        "cifar10-table",
        "finished",
        None,
    )


def test_resumed_settings_take_given_then_stored_then_defaults() -> None:
    stored = {"final_epochs": 1, "out": "models/a", "top": 3}
    merged = resumed_settings(stored, {"out": "models/b", "top": None, "final_epochs": None})
    assert merged == {**SEARCH_DEFAULTS, "final_epochs": 1, "out": "models/b", "top": 3}
    assert resumed_settings(None, {}) == SEARCH_DEFAULTS
    with pytest.raises(KeyError, match="epochs"):
        resumed_settings(stored, {"epochs": 3})


def test_default_names_include_the_task(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    args = ["--budget", "1", "--epochs", "1", "--workers", "1", "--final-epochs", "0"]
    payload = _ok("search", "--task", "mnist1d", *args, "--store", str(store))
    assert payload["name"] == "mnist1d-conv1d-evolution-seed0"
    (row,) = _ok("status", "--store", str(store))["experiments"]
    assert (row["task"], row["space"]) == ("mnist1d", "conv1d")


def test_a_recorded_oneshot_run_is_finished(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    code, _, err = _run(
        "oneshot", "-s", "channels=4", "--threads", "1", "--epochs", "1", "--store",
        str(store), "--name", "os", "--json",
    )  # fmt: skip
    assert code == 0, err
    (row,) = _ok("status", "--store", str(store))["experiments"]
    assert (row["name"], row["task"], row["state"]) == ("os", "digits", "finished")


def test_a_recorded_final_stays_through_a_resume_and_shows_its_baseline(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    common = ["--store", str(store), "--name", "b"]
    _ok("search", "--benchmark", str(nb201_csv_path), "--budget", "5", *common)
    final = {
        "arch": "the winner",
        "epochs": 2,
        "test_accuracy": 91.5,
        "valid_accuracy": 90.25,
        "model_dir": "models/b",
        "baseline": {"arch": "resnet-like", "test_accuracy": 88.75},
    }
    with Store(store) as journal:
        journal.record_final(journal.experiment("b").id, final)
    _ok("resume", "--budget", "6", *common)  # a table search: nothing retrained
    assert _ok("best", *common)["final"] == final
    code, out, _ = _run("best", *common)
    assert code == 0 and "test accuracy 91.50%" in out
    assert "baseline resnet-like: test accuracy 88.75%" in out
    page = tmp_path / "r.html"
    assert _run("report", *common, "--out", str(page))[0] == 0
    assert "resnet-like: test accuracy 88.75%" in page.read_text()


@pytest.mark.slow
def test_resume_keeps_or_changes_what_the_winner_retrains_on(tmp_path: Path) -> None:
    store = tmp_path / "f.sqlite"
    first = _ok(
        "search", "--budget", "2", *TRAIN, "--final-epochs", "1", "--store", str(store),
        "--name", "f", "--out", str(tmp_path / "a"), "--final-data", "train",
    )  # fmt: skip
    assert first["final"]["valid_trained"] is False
    kept = _ok("resume", "--store", str(store), "--budget", "3", "--out", str(tmp_path / "b"))
    assert kept["final"]["valid_trained"] is False  # the stored --final-data train
    changed = _ok(
        "resume", "--store", str(store), "--budget", "4", "--out", str(tmp_path / "c"),
        "--final-data", "all",
    )  # fmt: skip
    assert changed["final"]["valid_trained"] is True
    code, out, err = _run("resume", "--store", str(store), "--final-data", "some")
    assert out == ""
    assert code == 2 and "unknown --final-data 'some'" in err and len(err.splitlines()) == 1
