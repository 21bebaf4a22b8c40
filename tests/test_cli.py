"""The command line, run in-process with Typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.storage import Store
from nasforge.strategy import STRATEGIES

runner = CliRunner()
BEST_ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _search(table: Path, store: Path, *extra: str) -> dict[str, object]:
    code, out, err = _run(
        "search",
        "--space",
        "nb201",
        "--benchmark",
        str(table),
        "--store",
        str(store),
        "--json",
        *extra,
    )
    assert code == 0, err
    payload: dict[str, object] = json.loads(out)
    return payload


def test_search_acceptance_evolution_200_seed_0(nb201_csv_path: Path, tmp_path: Path) -> None:
    payload = _search(
        nb201_csv_path,
        tmp_path / "s.sqlite",
        "--strategy",
        "evolution",
        "--budget",
        "200",
        "--seed",
        "0",
    )
    best = payload["best"]
    assert isinstance(best, dict)
    assert payload["trials"] == 200
    assert best["metrics"]["cifar10_test_acc"] >= 94.0
    assert best["arch"].startswith("|") and best["arch"].count("+") == 2
    assert best["metrics"]["valid_acc"] == best["metrics"]["cifar10_valid_acc"]


def test_search_prints_a_leaderboard_for_people(nb201_csv_path: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        "search",
        "--benchmark",
        str(nb201_csv_path),
        "--store",
        str(tmp_path / "s.sqlite"),
        "--budget",
        "30",
        "--top",
        "3",
    )
    assert code == 0
    assert (
        "Leaderboard" in out
        and "valid_acc" in out
        and "Best of cifar10-table-nb201-evolution-seed0" in out
    )


def test_fidelity_12_searches_on_12_epoch_validation(nb201_csv_path: Path, tmp_path: Path) -> None:
    payload = _search(nb201_csv_path, tmp_path / "s.sqlite", "--budget", "40", "--fidelity", "12")
    metrics = payload["best"]["metrics"]  # type: ignore[index]
    assert metrics["valid_acc"] == metrics["cifar10_valid_acc_12ep"]


def test_epochs_budget_stops_a_hyperband_search(nb201_csv_path: Path, tmp_path: Path) -> None:
    payload = _search(
        nb201_csv_path,
        tmp_path / "s.sqlite",
        "--strategy",
        "hyperband",
        "--budget",
        "1000",
        "--epochs-budget",
        "1500",
    )
    trials = payload["trials"]
    assert isinstance(trials, int) and 10 < trials < 100  # epochs, not queries, ran out


def test_resume_status_and_best_work_on_the_stored_experiment(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    first = _search(nb201_csv_path, store, "--budget", "50", "--name", "run")
    code, out, err = _run("resume", "--store", str(store), "--budget", "120", "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert resumed["name"] == "run" and resumed["trials"] == 120
    assert resumed["best"]["score"] >= first["best"]["score"]  # type: ignore[index]

    code, out, _ = _run("best", "--store", str(store), "--json")
    assert code == 0 and json.loads(out)["best"] == resumed["best"]

    code, out, _ = _run("status", "--store", str(store), "--json")
    assert code == 0
    (row,) = json.loads(out)["experiments"]
    assert (row["name"], row["evaluated"], row["budget"], row["state"]) == (
        "run",
        120,
        120,
        "finished",
    )


def test_same_seed_gives_same_trials_in_a_separate_process(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    args = ["--benchmark", str(nb201_csv_path), "--store", str(store), "--budget", "40", "--json"]
    _search(nb201_csv_path, store, "--budget", "40", "--seed", "3", "--name", "here")
    subprocess.run(
        [sys.executable, "-m", "nasforge.cli", "search", *args, "--seed", "3", "--name", "there"],
        check=True,
        capture_output=True,
    )
    _search(nb201_csv_path, store, "--budget", "40", "--seed", "4", "--name", "other")
    with Store(store) as journal:
        archs = {
            name: [t.arch for t in journal.trials(journal.experiment(name).id)]
            for name in ("here", "there", "other")
        }
    assert archs["here"] == archs["there"]
    assert archs["here"] != archs["other"]


def test_default_names_do_not_collide(nb201_csv_path: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    names = [_search(nb201_csv_path, store, "--budget", "5")["name"] for _ in range(2)]
    assert names == ["cifar10-table-nb201-evolution-seed0", "cifar10-table-nb201-evolution-seed0-2"]


def test_query_looks_up_one_arch(nb201_csv_path: Path) -> None:
    code, out, _ = _run("query", BEST_ARCH, "--benchmark", str(nb201_csv_path), "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["row"] == 6111 and payload["metrics"]["cifar10_test_acc"] == pytest.approx(
        94.3733
    )


# -- bad input: one line on stderr naming the problem, exit code 2, store intact ----------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_user_error(args: list[str], needle: str) -> None:
    code, out, err = _run(*args)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert out == ""


@pytest.mark.parametrize(
    ("arch", "needle"),
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "malformed NB201 arch string"),
        ("|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read op~0"),
        ("not-an-arch", "malformed arch text"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("node1_in0=conv_5x5", "does not fit space 'nb201'"),
    ],
)
def test_bad_arch_strings(nb201_csv_path: Path, arch: str, needle: str) -> None:
    _assert_user_error(["query", arch, "--benchmark", str(nb201_csv_path)], needle)


def test_unknown_op_in_arch_text(nb201_csv_path: Path) -> None:
    text = ",".join(
        f"{label}={'conv_5x5' if i == 0 else 'none'}"
        for i, label in enumerate(
            ["node1_in0", "node2_in0", "node2_in1", "node3_in0", "node3_in1", "node3_in2"]
        )
    )
    _assert_user_error(
        ["query", text, "--benchmark", str(nb201_csv_path)], "'conv_5x5' is not a choice"
    )


def test_bad_benchmark_files(tmp_path: Path, nb201_csv_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    _assert_user_error(
        ["search", "--benchmark", str(missing), "--store", str(tmp_path / "s")],
        "benchmark file not found",
    )
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00binary\x80\x81" * 50)
    _assert_user_error(
        ["search", "--benchmark", str(garbage), "--store", str(tmp_path / "s")],
        "cannot read benchmark file",
    )
    _assert_user_error(
        ["search", "--benchmark", str(tmp_path), "--store", str(tmp_path / "s")], "is not a file"
    )
    header, *rows = nb201_csv_path.read_text().splitlines()[:5]
    kept = [i for i, col in enumerate(header.split(",")) if not col.startswith("cifar10_valid")]
    lacking = tmp_path / "lacking.csv"
    lacking.write_text(
        "\n".join(",".join(line.split(",")[i] for i in kept) for line in [header, *rows])
    )
    _assert_user_error(
        ["search", "--benchmark", str(lacking), "--store", str(tmp_path / "s")],
        "lacks columns: cifar10_valid_acc_12ep, cifar10_valid_acc",
    )
    no_arch = tmp_path / "no_arch.csv"
    no_arch.write_text("a,b\n1,2\n")
    _assert_user_error(
        ["search", "--benchmark", str(no_arch), "--store", str(tmp_path / "s")],
        "lacks columns: arch",
    )
    assert not (tmp_path / "s").exists(), "a failed search must not create a store"


def test_benchmark_from_environment_variable(
    nb201_csv_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NASFORGE_NB201", raising=False)
    _assert_user_error(
        ["search", "--evaluator", "benchmark", "--store", str(tmp_path / "s")], "NASFORGE_NB201"
    )
    monkeypatch.setenv("NASFORGE_NB201", str(nb201_csv_path))
    code, out, err = _run(
        "search",
        "--evaluator",
        "benchmark",
        "--store",
        str(tmp_path / "s"),
        "--budget",
        "5",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["trials"] == 5


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--budget", "0"], "budget queries must be greater than 0"),
        (["--budget", "-3"], "budget queries must be greater than 0"),
        (["--strategy", "annealing"], "unknown strategy 'annealing'"),
        (["--space", "nb301"], "unknown search space 'nb301'"),
        (["--fidelity", "50"], "fidelity must be 12 or 200"),
        (["--epochs-budget", "0"], "budget epochs must be greater than 0"),
        (["--objective", "valid_acc:up"], "must read NAME:max or NAME:min"),
        (["--option", "population_size=1"], "population_size >= 2"),
        (["--option", "temperature=2"], "has no option temperature"),
        (["--option", "nonsense"], "must read KEY=VALUE"),
    ],
)
def test_bad_search_settings(
    nb201_csv_path: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    store = tmp_path / "s.sqlite"
    _search(nb201_csv_path, store, "--budget", "10", "--name", "keep")
    before = _digest(store)
    _assert_user_error(
        ["search", "--benchmark", str(nb201_csv_path), "--store", str(store), *args], needle
    )
    assert _digest(store) == before


def test_store_that_is_not_a_nasforge_store(nb201_csv_path: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    for command in (
        ["search", "--benchmark", str(nb201_csv_path), "--store", str(notes)],
        ["resume", "--store", str(notes)],
        ["status", "--store", str(notes)],
        ["best", "--store", str(notes)],
    ):
        _assert_user_error(command, "is not a nasforge store")
    assert notes.read_text() == "my precious notes\n"


def test_existing_name_unknown_name_and_missing_store(nb201_csv_path: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    _search(nb201_csv_path, store, "--budget", "10", "--name", "keep")
    before = _digest(store)
    _assert_user_error(
        ["search", "--benchmark", str(nb201_csv_path), "--store", str(store), "--name", "keep"],
        "already exists",
    )
    _assert_user_error(["resume", "--store", str(store), "--name", "nope"], "no experiment 'nope'")
    _assert_user_error(["best", "--store", str(tmp_path / "none.sqlite")], "store not found")
    assert _digest(store) == before


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_searches_from_the_cli(nb201_csv_path: Path, strategy: str) -> None:
    payload = _search(nb201_csv_path, Path("s.sqlite"), "--strategy", strategy, "--budget", "30")
    best = payload["best"]
    assert payload["trials"] == 30
    assert isinstance(best, dict) and best["budget"] == 200.0
    assert best["metrics"]["cifar10_test_acc"] > 80
