"""A text search killed mid-run resumes: the task (and its vocabulary) reloads identically,
so the resumed trials are those of the same search run without interruption (one worker:
with several, trials finish in an order that timing decides, as the CLI's help says)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import shared_file
from helpers import finished_trials
from nasforge.run.storage import Store, TrialRecord

BUDGET = 12
QUESTIONS = 600


@pytest.fixture(scope="module")
def trec_train() -> Path:
    return shared_file("NASFORGE_DATA", "data", "trec", "train_5500.label")


def _nasforge(*args: str) -> list[str]:
    return [sys.executable, "-c", "from nasforge.cli import main; main()", *args]


def _search_args(data: Path, store: Path) -> list[str]:
    return [
        "search", "--task", "text", "--data", str(data), "--budget", str(BUDGET),
        "--epochs", "1", "-s", "embed_dims=[16,32]", "-s", "widths=[0,8,16]",
        "--final-epochs", "0", "--threads", "1", "--workers", "1", "--store", str(store),
        "--name", "trec",
    ]  # fmt: skip


def _trials(store: Path) -> list[TrialRecord]:
    with Store(store) as journal:
        record = journal.get_experiment("trec")
        assert record is not None
        return journal.trials(record.id)


def _essence(trial: TrialRecord) -> tuple[object, ...]:
    """What must not differ between a resumed and an uninterrupted run."""
    return (trial.number, trial.arch, trial.status, trial.score, trial.metrics.get("accuracy"))


@pytest.mark.slow
def test_a_killed_text_search_resumes_as_if_never_killed(trec_train: Path, tmp_path: Path) -> None:
    lines = trec_train.read_bytes().decode("latin-1").splitlines()[:QUESTIONS]
    data = tmp_path / "trec.label"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    killed, whole = tmp_path / "killed.sqlite", tmp_path / "whole.sqlite"

    process = subprocess.Popen(_nasforge(*_search_args(data, killed)), cwd=tmp_path)
    deadline = time.monotonic() + 300
    while finished_trials(killed) < 3:
        assert process.poll() is None, "the search ended before it was killed"
        assert time.monotonic() < deadline, "no 3 finished trials within 300 s"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {t.number: t for t in _trials(killed) if t.finished}
    assert 3 <= len(before) < BUDGET

    resume = ["resume", "--store", str(killed), "--name", "trec", "--final-epochs", "0",
              "--workers", "1"]  # fmt: skip
    resumed = subprocess.run(_nasforge(*resume), cwd=tmp_path, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = subprocess.run(
        _nasforge(*_search_args(data, whole)), cwd=tmp_path, capture_output=True, text=True
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    after = _trials(killed)
    assert sum(t.finished and t.duplicate_of is None for t in after) == BUDGET
    for number, trial in before.items():
        assert after[number] == trial, f"trial {number} changed on resume"
    assert [_essence(t) for t in after] == [_essence(t) for t in _trials(whole)]
