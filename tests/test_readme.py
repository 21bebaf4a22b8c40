"""The README's Python tour runs as written (from a checkout with shared/ beside it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_python_tour_runs(tmp_path: Path, nb201_csv_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    (tour,) = re.findall(r"## The Python API\n\n```python\n(.*?)```", readme, re.S)
    work = tmp_path / "checkout"
    work.mkdir()
    (tmp_path / "shared" / "benchmarks").mkdir(parents=True)
    (tmp_path / "shared" / "benchmarks" / "nb201.csv").symlink_to(nb201_csv_path)
    script = work / "tour.py"
    script.write_text(tour + "\nprint('TOUR-OK', len(result.trials), winner.test_accuracy)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    marker, trials, accuracy = done.stdout.strip().splitlines()[-1].split()
    assert marker == "TOUR-OK" and int(trials) >= 12 and float(accuracy) > 80
    assert (work / "models" / "digits" / "model.safetensors").exists()
