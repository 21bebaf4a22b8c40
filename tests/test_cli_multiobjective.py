"""Multi-objective search and constraints from the command line, on NAS-Bench-201."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.pareto import dominates

runner = CliRunner()
ACCURACY, LATENCY = "cifar10_valid_acc", "latency_ms_edgegpu_cifar10"


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _bench(table: Path, *args: str) -> list[str]:
    return ["search", "--benchmark", str(table), "--store", "s.sqlite", *args]


@pytest.mark.parametrize("strategy", ["nsga2", "pareto-local", "random"])
def test_multi_objective_search_returns_and_stores_the_front(
    nb201_csv_path: Path, strategy: str
) -> None:
    goals = ["--strategy", strategy, "--objective", f"{ACCURACY}:max"]
    goals += ["--objective", f"{LATENCY}:min"]
    code, out, err = _run(
        *_bench(nb201_csv_path, *goals, "--budget", "60", "--name", "mo", "--json")
    )
    assert code == 0, err
    payload = json.loads(out)
    front = payload["best"]
    assert isinstance(front, list) and len(front) >= 2
    points = [(m["metrics"][ACCURACY], -m["metrics"][LATENCY]) for m in front]
    for i, p in enumerate(points):
        assert not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    assert all(m["arch"].startswith("|") for m in front)
    assert payload["pareto"]["size"] == len(front) and payload["pareto"]["hypervolume"] > 0
    code, out, _ = _run("best", "--store", "s.sqlite", "--json")
    assert code == 0 and json.loads(out)["best"] == front
    code, out, _ = _run(*_bench(nb201_csv_path, *goals, "--budget", "20", "--name", "people"))
    assert code == 0 and "Pareto front" in out and "hypervolume" in out


def test_constraint_bounds_the_single_objective_best(nb201_csv_path: Path) -> None:
    args = ["--constraint", "params_m_cifar10<=0.5", "--budget", "80", "--json"]
    code, out, err = _run(*_bench(nb201_csv_path, *args))
    assert code == 0, err
    best = json.loads(out)["best"]
    assert best["metrics"]["params_m_cifar10"] <= 0.5


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--objective", "nonsense:max"], "unknown objective metric 'nonsense'"),
        (["--constraint", "params_m_cifar10<0.5"], "must read NAME<=VALUE or NAME>=VALUE"),
        (["--constraint", "bogus<=1"], "unknown constraint metric 'bogus'"),
        (
            ["--objective", f"{ACCURACY}:max", "--objective", f"{LATENCY}:min"],
            "strategy 'evolution' optimizes one objective, not 2",
        ),
        (
            ["--strategy", "optuna", "-o", "sampler=cmaes"],
            "categorical decisions here: node1_in0",
        ),
    ],
)
def test_bad_objectives_and_strategies(nb201_csv_path: Path, args: list[str], needle: str) -> None:
    code, out, err = _run(*_bench(nb201_csv_path, *args))
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert not Path("s.sqlite").exists()
