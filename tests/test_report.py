"""`nasforge report`: one self-contained HTML file per experiment, for the four kinds of run
the issue names (NB201 table search, training search on digits, multi-objective, one-shot)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from report_checks import external_requests, section_ids

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _report(store: Path, name: str, out: Path) -> str:
    printed = _ok(["report", "--store", str(store), "--name", name, "--out", str(out)])
    assert str(out) in printed
    html = out.read_text()
    assert external_requests(html) == []
    return html


@pytest.fixture(scope="module")
def table_store(tmp_path_factory: pytest.TempPathFactory, nb201_csv_path: Path) -> Path:
    store = tmp_path_factory.mktemp("report") / "s.sqlite"
    common = ["--space", "nb201", "--benchmark", str(nb201_csv_path), "--store", str(store)]
    _ok(["search", *common, "--budget", "60", "--strategy", "evolution", "--name", "c10"])
    _ok(
        [
            "search",
            *common,
            "--budget",
            "60",
            "--name",
            "mo",
            "--strategy",
            "nsga2",
            "--objective",
            "valid_acc",
            "--objective",
            "params_m_cifar10:min",
        ]
    )
    return store


def test_the_report_says_when_the_trials_never_saw_a_broken_cell(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    _ok(
        [
            "search", "--space", "nb201", "--benchmark", str(nb201_csv_path), "--store",
            str(store), "--budget", "100", "--strategy", "evolution", "--seed", "1",
            "--name", "evo",
        ]
    )  # fmt: skip
    with Store(store, read_only=True) as journal:
        trials = journal.trials(journal.experiment("evo").id)
    space = NB201Space()
    assert all(space.structure_features(space.parse(t.arch))["connected"] for t in trials)
    html = _report(store, "evo", tmp_path / "evo.html")
    assert '<p class="note">every trial has connected = 1, though the space' in html


def test_a_table_search_report_has_every_section_with_its_content(
    table_store: Path, tmp_path: Path
) -> None:
    html = _report(table_store, "c10", tmp_path / "c10.html")
    assert section_ids(html) == [
        "settings",
        "progress",
        "leaderboard",
        "architecture",
        "importance",
        "trials",
    ]
    best = json.loads(_ok(["best", "--store", str(table_store), "--name", "c10", "--json"]))
    assert best["best"]["arch"] in html  # the leaderboard's and the drawing's arch
    assert html.count('class="cell"') == 1  # the winning cell, drawn as a DAG
    with Store(table_store, read_only=True) as journal:
        trials = journal.trials(journal.experiment("c10").id)
    kept = [t.number for t in trials if t.duplicate_of is None]
    assert re.findall(r'<tr data-trial="(\d+)">', html) == [str(n) for n in kept]  # every one
    assert f"and {len(trials) - len(kept)} duplicates" in html
    assert 'class="sortable"' in html
    assert "node3_in0" in html and "Left to interactions" in html  # importance
    space = NB201Space()
    any_broken = any(not space.structure_features(space.parse(t.arch))["connected"] for t in trials)
    note = '<p class="note">every trial has connected = 1'
    assert (note in html) is not any_broken  # the importance's note on unseen cells
    assert "Why " in html and "evaluated neighbours" in html.lower()  # the explanation
    assert "evolution (" in html and "queries 60" in html  # settings and budget


def test_a_multi_objective_report_draws_the_front_and_the_dominated(
    table_store: Path, tmp_path: Path
) -> None:
    html = _report(table_store, "mo", tmp_path / "mo.html")
    assert "pareto" in section_ids(html)
    best = json.loads(_ok(["best", "--store", str(table_store), "--name", "mo", "--json"]))
    front = best["best"]
    size = int(re.search(r'<span id="pareto-size">(\d+)</span>', html).group(1))  # type: ignore[union-attr]
    assert size == len(front) == best["pareto"]["size"]
    assert f"Pareto front ({size})" in html
    assert f"dominated ({60 - size})" in html
    assert "params_m_cifar10 (min)" in html


def test_a_training_search_report_draws_learning_curves(tmp_path: Path) -> None:
    store = tmp_path / "t.sqlite"
    _ok(
        [
            "search",
            "--task",
            "digits",
            "--budget",
            "4",
            "--epochs",
            "2",
            "--final-epochs",
            "0",
            "--store",
            str(store),
            "--name",
            "digits",
            "--out",
            str(tmp_path / "model"),
        ]
    )
    html = _report(store, "digits", tmp_path / "digits.html")
    assert "curves" in section_ids(html)
    with Store(store, read_only=True) as journal:
        trials = journal.trials(journal.experiment("digits").id)
    curved = [t for t in trials if t.evaluated and "valid_accuracy" in t.info]
    assert curved and all(len(t.info["valid_accuracy"]) == 2 for t in curved)
    assert f"the {len(curved)} best of {len(curved)} trained trials" in html
    # too few trials for importance: said, not hidden
    assert "too few trials to tell which decisions matter" in html


def test_a_one_shot_report_draws_the_weights_per_epoch(tmp_path: Path) -> None:
    store = tmp_path / "o.sqlite"
    _ok(["oneshot", "--epochs", "3", "--store", str(store), "--name", "os", "--json"])
    html = _report(store, "os", tmp_path / "os.html")
    assert section_ids(html) == ["settings", "leaderboard", "architecture", "oneshot", "trials"]
    assert "share of skip connections in the argmax arch" in html
    for label in ("node1_in0", "node3_in2"):
        assert f"{label}: weight of each choice" in html
    best = json.loads(_ok(["best", "--store", str(store), "--name", "os", "--json"]))
    assert best["best"]["metrics"]["supernet_valid_acc"] > 0
    assert "oneshot:darts" in html


def test_a_one_shot_name_already_taken_is_refused_before_training(tmp_path: Path) -> None:
    store = tmp_path / "o.sqlite"
    with Store(store) as journal:
        journal.create_experiment("taken", {"space": {"name": "nb201"}})
    result = runner.invoke(app, ["oneshot", "--store", str(store), "--name", "taken"])
    assert result.exit_code == 2
    assert "experiment 'taken' already exists" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "missing.sqlite"], "store not found"),
        (["--name", "nope"], "no experiment 'nope'"),
        (["--out", "."], "is a folder"),
        (["--out", "no/such/folder/r.html"], "does not exist"),
    ],
)
def test_report_bad_input_is_one_line_and_exit_2(
    table_store: Path, args: list[str], message: str
) -> None:
    defaults = {"--store": str(table_store), "--name": "c10", "--out": "r.html"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        defaults[key] = value
    result = runner.invoke(app, ["report", *[x for kv in defaults.items() for x in kv]])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("hello")
    result = runner.invoke(app, ["report", "--store", str(bogus), "--name", "x"])
    assert result.exit_code == 2
    assert "not a nasforge store" in result.output
