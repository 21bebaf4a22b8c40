"""An unexpected error ends a command with one line and exit code 1; --debug shows it all."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.storage import Store

runner = CliRunner()

FAILING_STATUS = textwrap.dedent(
    """
    import sys
    from nasforge.run import results
    from nasforge.cli import main

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug deep inside")

    results.SearchResult.from_trials = broken
    sys.argv = ["nasforge", *sys.argv[1:]]
    main()
    """
)


def _store_with_an_experiment(path: Path) -> Path:
    with Store(path) as store:
        store.create_experiment("e", {"space": {"name": "nb201"}, "strategy": {"name": "random"}})
    return path


def _status(store: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FAILING_STATUS, "status", "--store", str(store), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unexpected_error_is_one_line_naming_it_and_exit_code_1(tmp_path: Path) -> None:
    done = _status(_store_with_an_experiment(tmp_path / "s.sqlite"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "unexpected error in 'status'" in lines[0]
    assert "ZeroDivisionError: a bug deep inside" in lines[0]
    assert "--debug" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_anywhere_shows_the_traceback(tmp_path: Path, where: str) -> None:
    store = _store_with_an_experiment(tmp_path / "s.sqlite")
    done = (
        _status(store, "--debug")
        if where == "after"
        else subprocess.run(
            [sys.executable, "-c", FAILING_STATUS, "--debug", "status", "--store", str(store)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError: a bug deep inside" in done.stderr


def test_bad_input_keeps_exit_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "s.sqlite"
    result = runner.invoke(app, ["status", "--store", str(missing)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
