"""Output to a pipe whose reader has gone (``nasforge ... | head -1``) ends quietly with exit
status 141 (128 + SIGPIPE), as ``cat`` and ``grep`` do: no "unexpected error", no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nasforge.cli import app

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
TINY = ["-s", "channels=4", "-s", "cells_per_stage=1"]


def _nasforge(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nasforge.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _quiet_sigpipe_exit(process: subprocess.Popen[str]) -> None:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 141, stderr
    assert "unexpected error" not in stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


def test_search_into_a_closed_pipe_exits_141_quietly(nb201_csv_path: Path, tmp_path: Path) -> None:
    process = _nasforge(
        "search",
        "--evaluator",
        "benchmark",
        "--benchmark",
        str(nb201_csv_path),
        "--budget",
        "20",
        "--store",
        str(tmp_path / "s.sqlite"),
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the leaderboard is printed
    _quiet_sigpipe_exit(process)


def test_predict_into_head_1_exits_141_quietly(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    out = tmp_path / "model"
    trained = CliRunner().invoke(
        app, ["train", CELL, "--epochs", "1", *TINY, "--out", str(out), "--json"]
    )
    assert trained.exit_code == 0, trained.stderr
    images = (load_digits().images / 16.0).astype(np.float32)
    np.savez(tmp_path / "many.npz", x=np.concatenate([images] * 20))  # more than a pipe holds
    process = _nasforge("predict", str(out), "--data", str(tmp_path / "many.npz"))
    assert process.stdout is not None
    assert process.stdout.readline().rstrip("\n").split("\t")[-1].isdigit()  # NAME<TAB>CLASS
    process.stdout.close()  # as `head -1` does after its line
    _quiet_sigpipe_exit(process)
