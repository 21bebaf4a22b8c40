"""The Python tour (docs/guide/python-api.md) runs as written (from a checkout with shared/
beside it); the README's opening names everything registered."""

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
    page = (ROOT / "docs" / "guide" / "python-api.md").read_text()
    (tour,) = re.findall(r"^# The Python API\n\n```python\n(.*?)```", page, re.S)
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


def _registered() -> dict[str, list[str]]:
    import typer.main

    from nasforge.cli import app
    from nasforge.data import TASK_NAMES
    from nasforge.oneshot.registry import METHODS
    from nasforge.proxies import proxy_names
    from nasforge.space import SPACES
    from nasforge.strategy import STRATEGIES

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    return {
        "space": list(SPACES),
        "task": list(TASK_NAMES),
        "strategy": list(STRATEGIES),
        "one-shot method": list(METHODS),
        "command": list(commands),
        "proxy": list(proxy_names()),
    }


def test_the_readme_opening_names_every_registered_space_task_strategy_and_command() -> None:
    """What the README's opening lists (up to its first section) is checked against the
    registries: adding a space, task, strategy, method, proxy or command without listing
    it fails here."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    opening = readme[: readme.index("\n## ")]
    missing = [
        f"{kind} {name}"
        for kind, names in _registered().items()
        for name in names
        if f"`{name}`" not in opening and not (kind == "proxy" and name in opening)
    ]
    assert not missing, f"README.md's opening does not list: {', '.join(missing)}"
