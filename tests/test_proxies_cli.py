"""`nasforge proxies`: zero-cost proxy scores of small NB201 networks on digits, from the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.cli.proxies import DATA_FREE_PROXIES, KNOWN_PROXIES
from nasforge.proxies import get_proxy, proxy_names
from nasforge.space import NB201Space

runner = CliRunner()
TINY = ["--space", "nb201", "-s", "channels=4", "-s", "cells_per_stage=1"]
DIGITS = [*TINY, "--task", "digits", "--batch-size", "16"]


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["proxies", *args])
    return result.exit_code, result.stdout, result.stderr


def _json(*args: str) -> dict[str, Any]:
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    payload: dict[str, Any] = json.loads(out, parse_constant=_no_constant)
    return payload


def _no_constant(name: str) -> None:
    raise AssertionError(f"--json printed {name}, which is not JSON")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_has_an_arch_column_one_column_per_proxy_and_the_ensemble(tmp_path: Path) -> None:
    out = tmp_path / "scores" / "s.csv"
    code, stdout, stderr = _run(
        *DIGITS, "--sample", "6", "-p", "synflow", "-p", "nwot", "--out", str(out)
    )
    assert code == 0, stderr
    with out.open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["arch", "synflow", "nwot", "ensemble"]
    rows = _rows(out)
    assert len(rows) == 6
    space = NB201Space()
    assert len({space.format(space.parse(row["arch"])) for row in rows}) == 6
    assert all(row["arch"].startswith("|") for row in rows)
    for row in rows:
        for name in ("synflow", "nwot", "ensemble"):
            float(row[name])  # a number, "-inf" or "nan"
        assert 0.0 <= float(row["ensemble"]) <= 1.0
    assert "Scored 6 architectures" in stdout and str(out) in stdout
    assert "Top" not in stdout  # with --out, no table of the best


def test_one_proxy_has_no_ensemble_and_the_default_proxy_is_synflow(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    code, _, stderr = _run(*TINY, "--sample", "3", "--out", str(out))
    assert code == 0, stderr
    with out.open(newline="") as handle:
        assert next(csv.reader(handle)) == ["arch", "synflow"]
    assert len(_rows(out)) == 3


def test_json_holds_every_arch_and_its_scores() -> None:
    payload = _json(*DIGITS, "--sample", "5", "-p", "snip", "-p", "params")
    assert payload["proxies"] == ["snip", "params"]
    assert payload["count"] == 5 and len(payload["archs"]) == 5
    assert payload["space"] == {"name": "nb201", "params": {"channels": 4, "cells_per_stage": 1}}
    assert payload["task"]["name"] == "digits" and payload["batch_size"] == 16
    assert payload["ranked_by"] == "ensemble" and "correlations" not in payload
    for entry in payload["archs"]:
        assert set(entry["scores"]) == {"snip", "params", "ensemble"}
        assert entry["scores"]["params"] > 0


def test_non_finite_scores_are_minus_inf_in_csv_and_null_in_json(tmp_path: Path) -> None:
    """synflow of a cell whose output ignores its input is -inf; JSON has no -inf."""
    out = tmp_path / "s.csv"
    payload = _json(*TINY, "--sample", "20", "--out", str(out))
    rows = _rows(out)
    assert [row["arch"] for row in rows] == [entry["arch"] for entry in payload["archs"]]
    disconnected = [row for row in rows if row["synflow"] == "-inf"]
    assert disconnected, "seed 0 draws cells whose output node ignores the input"
    by_arch = {entry["arch"]: entry["scores"]["synflow"] for entry in payload["archs"]}
    for row in rows:
        expected = None if row["synflow"] == "-inf" else float(row["synflow"])
        assert by_arch[row["arch"]] == expected


def test_the_same_seed_gives_the_same_csv_and_another_seed_another_sample(
    tmp_path: Path,
) -> None:
    first, second, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    args = [*DIGITS, "--sample", "4", "-p", "synflow", "-p", "snip"]
    for path, seed in ((first, "3"), (second, "3"), (other, "4")):
        code, _, stderr = _run(*args, "--seed", seed, "--out", str(path))
        assert code == 0, stderr
    assert first.read_bytes() == second.read_bytes()
    assert [r["arch"] for r in _rows(first)] != [r["arch"] for r in _rows(other)]


def test_without_out_or_json_the_best_are_printed_by_the_ensemble() -> None:
    code, stdout, stderr = _run(
        *DIGITS, "--sample", "8", "-p", "synflow", "-p", "nwot", "--top", "3"
    )
    assert code == 0, stderr
    assert "Top 3 of 8 architectures by ensemble" in stdout
    table_rows = [line for line in stdout.splitlines() if "|+|" in line]
    assert len(table_rows) == 3


def test_all_scores_every_arch_and_a_sample_larger_than_the_space_is_the_space(
    tmp_path: Path,
) -> None:
    """A 144-arch MLP space (one hidden layer): --all and --sample 1000 both score them all."""
    small = ["--space", "mlp", "-s", "max_layers=1", "--task", "digits", "-p", "params"]
    payload = _json(*small, "--all")
    assert payload["count"] == 144 and payload["computed"] == 144
    assert len({entry["arch"] for entry in payload["archs"]}) == 144
    assert _json(*small, "--sample", "1000")["archs"] == payload["archs"]


def test_cache_is_reused_with_identical_scores(tmp_path: Path) -> None:
    cache = tmp_path / "cache.csv"
    args = [*DIGITS, "--sample", "5", "-p", "synflow", "-p", "nwot", "--cache", str(cache)]
    first = _json(*args)
    assert first["computed"] >= 1 and cache.exists()
    second = _json(*args)
    assert second["computed"] == 0
    assert second["archs"] == first["archs"]
    third = _json(*args, "--seed", "1")  # another seed: other weights, not in the cache
    assert third["computed"] >= 1


def test_benchmark_correlations_for_a_sample(nb201_csv_path: Path) -> None:
    args = [*DIGITS, "--sample", "12", "-p", "synflow", "-p", "nwot"]
    payload = _json(*args, "--benchmark", str(nb201_csv_path))
    assert payload["metric"] == "cifar10_valid_acc"
    correlations = payload["correlations"]
    assert list(correlations) == ["synflow", "nwot", "ensemble"]
    for values in correlations.values():
        assert set(values) == {"spearman", "kendall"}
        for value in values.values():
            assert value is not None and -1.0 <= value <= 1.0

    code, stdout, stderr = _run(
        *args, "--benchmark", str(nb201_csv_path), "--metric", "cifar10_test_acc"
    )
    assert code == 0, stderr
    assert "Rank correlation with cifar10_test_acc (12 architectures)" in stdout
    assert "Spearman" in stdout and "Kendall" in stdout
    for name in ("synflow", "nwot", "ensemble"):
        (line,) = [line for line in stdout.splitlines() if line.strip("│ ").startswith(name + " ")]
        numbers = [float(cell) for cell in line.replace("│", " ").split()[1:]]
        assert len(numbers) == 2 and all(-1.0 <= n <= 1.0 for n in numbers)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["-p", "synflw"],
            "unknown proxy 'synflw'; choose from " + ", ".join(sorted(KNOWN_PROXIES)),
        ),
        (["-p", "jacov"], "proxy jacov needs a mini-batch of data; give a task"),
        (["-p", "synflow", "-p", "synflow"], "--proxy synflow is given more than once"),
        (["--sample", "5", "--all"], "give --sample N or --all, not both"),
        (["--sample", "0"], "--sample must be >= 1, not 0"),
        (["--batch-size", "0"], "--batch-size must be >= 1, not 0"),
        (["--metric", "cifar10_test_acc"], "--metric needs --benchmark"),
        (["--space", "mlp", "--benchmark", "nb201.csv"], "covers space 'nb201' only, not 'mlp'"),
        (["--benchmark", "missing/nb201.csv"], "benchmark file not found: missing/nb201.csv"),
        (["--space", "nb202"], "unknown search space 'nb202'"),
        (["--task", "digits", "--space", "conv1d"], "spaces that fit task 'digits'"),
        (["-s", "channels"], "space option 'channels' must read KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_on_stderr_exit_2_and_nothing_written(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    (tmp_path / "nb201.csv").write_text("arch,cifar10_valid_acc\n")  # exists, for the mlp case
    out, cache = tmp_path / "s.csv", tmp_path / "cache.csv"
    code, stdout, stderr = _run(*args, "--out", str(out), "--cache", str(cache))
    assert code == 2, (args, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasforge: error: "), stderr
    assert needle in lines[0], lines[0]
    assert stdout == ""
    assert not out.exists() and not cache.exists()


def test_a_benchmark_column_that_does_not_exist_is_an_error(nb201_csv_path: Path) -> None:
    code, _, stderr = _run(
        *TINY, "--benchmark", str(nb201_csv_path), "--metric", "cifar11_valid_acc"
    )
    assert code == 2 and "lacks columns: cifar11_valid_acc" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_help_lists_exactly_the_registered_proxies() -> None:
    assert sorted(KNOWN_PROXIES) == proxy_names()
    assert sorted(DATA_FREE_PROXIES) == sorted(
        name for name in proxy_names() if not get_proxy(name).needs_data
    )


def test_the_command_does_not_import_torch_before_it_runs() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from nasforge.cli import app; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'proxies' in [c.name or c.callback.__name__ for c in app.registered_commands]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
