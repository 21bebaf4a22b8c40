"""`nasforge importance` and `nasforge explain` on stored experiments, and their bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.run.storage import Store

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def store(nb201_csv_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 60-query random search on NB201 and one of 8 queries."""
    path = tmp_path_factory.mktemp("importance") / "s.sqlite"
    for name, budget in (("run", "60"), ("short", "8")):
        code, _, err = _run(
            "search", "--space", "nb201", "--benchmark", str(nb201_csv_path),
            "--strategy", "random", "--budget", budget, "--store", str(path), "--name", name,
            "--json",
        )  # fmt: skip
        assert code == 0, err
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_importance_json_and_text(store: Path) -> None:
    code, out, err = _run("importance", "--store", str(store), "--name", "run", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert (payload["experiment"], payload["metric"], payload["direction"]) == (
        "run",
        "valid_acc",
        "max",
    )
    assert payload["trials"] == 60
    assert len(payload["decisions"]) == 6
    assert all(len(d["effects"]) == 5 for d in payload["decisions"])
    shares = [d["importance"] for d in payload["decisions"]]
    assert shares == sorted(shares, reverse=True)
    assert 0.0 <= payload["interaction_share"] <= 1.0
    assert payload["interactions"] and payload["fit_r2"] is not None
    # the worst op of the NB201 cell is none: its marginal effect is negative on every edge
    for decision in payload["decisions"]:
        none = next(e for e in decision["effects"] if e["choice"] == "none")
        assert none["effect"] < 0

    code, out, err = _run("importance", "--store", str(store), "--name", "run")
    assert code == 0, err
    assert "Decision importance in run" in out and "left to interactions" in out
    assert "node3_in0" in out and "strongest pairs" in out


def test_importance_of_another_metric_and_direction(store: Path) -> None:
    code, out, err = _run(
        "importance", "--store", str(store), "--name", "run", "--metric", "params_m_cifar10:min",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert (payload["metric"], payload["direction"]) == ("params_m_cifar10", "min")
    # fewest parameters: no convolution on the most important edge
    assert payload["decisions"][0]["best"] in ("none", "skip_connect", "avg_pool_3x3")


def test_explain_the_winner_and_a_given_arch(store: Path) -> None:
    code, out, err = _run("explain", "--store", str(store), "--name", "run", "--json")
    assert code == 0, err
    winner = json.loads(out)
    code, out, _ = _run("best", "--store", str(store), "--name", "run", "--json")
    assert winner["winner"] and winner["arch"] == json.loads(out)["best"]["arch"]
    assert winner["measured"] == json.loads(out)["best"]["metrics"]["valid_acc"]
    assert len(winner["contributions"]) == 6
    total = winner["average"] + sum(c["contribution"] for c in winner["contributions"])
    assert winner["predicted"] == pytest.approx(total + winner["interactions"])

    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    code, out, err = _run("explain", arch, "--store", str(store), "--name", "run")
    assert code == 0, err
    assert "Why this architecture" in out and "contributions" in out

    code, out, err = _run("explain", "--store", str(store), "--name", "run")
    assert code == 0, err
    assert "Why the best trial" in out and "measured" in out


def test_too_few_trials_is_a_clear_error(store: Path) -> None:
    before = _digest(store)
    for command in ("importance", "explain"):
        code, out, err = _run(command, "--store", str(store), "--name", "short")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "too few trials" in err and "need at least 25" in err
    assert _digest(store) == before


def test_bad_input_is_one_line_exit_2_and_writes_nothing(store: Path, tmp_path: Path) -> None:
    before = _digest(store)
    missing = tmp_path / "none.sqlite"
    empty = tmp_path / "empty.sqlite"
    with Store(empty) as journal:
        journal.create_experiment(
            "fresh", {"space": {"name": "nb201"}, "objective": {"metric": "valid_acc"}}
        )
    empty_before = _digest(empty)
    cases = [
        (["importance", "--store", str(missing)], "store not found"),
        (["explain", "--store", str(missing)], "store not found"),
        (["importance", "--store", str(store), "--name", "nope"], "no experiment 'nope'"),
        (["explain", "--store", str(store), "--name", "nope"], "no experiment 'nope'"),
        (["importance", "--store", str(store)], "several experiments"),
        (["importance", "--store", str(empty)], "no finished trials"),
        (["explain", "--store", str(empty)], "no finished trials"),
        (["importance", "--store", str(store), "--name", "run", "--metric", "bogus"], "bogus"),
        (["explain", "|bad|", "--store", str(store), "--name", "run"], "bad"),
    ]
    for args, needle in cases:
        code, out, err = _run(*args)
        assert code == 2, (args, err)
        assert out == "" and err.count("\n") == 1 and needle in err, (args, err)
    assert not missing.exists()
    assert _digest(store) == before and _digest(empty) == empty_before


def test_any_space_and_a_minimized_objective(tmp_path: Path) -> None:
    """An experiment of the mlp space whose objective is a loss (min), written by hand."""
    import numpy as np

    from nasforge.evaluate.result import Result
    from nasforge.space import make_space

    space = make_space("mlp")
    rng = np.random.default_rng(0)
    path = tmp_path / "mlp.sqlite"
    with Store(path) as journal:
        record = journal.create_experiment(
            "loss",
            {
                "space": {"name": "mlp", "params": space.config()},
                "objectives": [{"metric": "loss", "direction": "min"}],
            },
        )
        for number in range(60):
            arch = space.sample(rng)
            loss = 1.0 - 0.1 * ["relu", "gelu", "silu", "tanh"].index(str(arch["activation"]))
            journal.add_trial(record.id, number, str(arch), None, 2 * number)
            journal.finish_trial(
                record.id, number, Result(metrics={"loss": loss}), -loss, 2 * number + 1
            )
    code, out, err = _run("importance", "--store", str(path), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["direction"] == "min"
    top = payload["decisions"][0]
    assert (top["label"], top["best"]) == ("activation", "tanh")
    code, out, err = _run("explain", "--store", str(path), "--json")
    assert code == 0, err
    winner = json.loads(out)
    assert "activation=tanh" in winner["arch"]
    assert winner["contributions"][0]["label"] == "activation"
    assert winner["contributions"][0]["contribution"] < 0  # lowers the loss


@pytest.mark.slow
def test_importance_of_a_3000_query_search(nb201_csv_path: Path, tmp_path: Path) -> None:
    """At a size users reach: 3,000 queries of a random search on NB201. With that many
    trials the importance matches the full table's truth (node3_in0 first, then
    node1_in0; interaction share 71%) and no note says a region was never seen."""
    path = tmp_path / "big.sqlite"
    code, _, err = _run(
        "search", "--space", "nb201", "--benchmark", str(nb201_csv_path), "--strategy",
        "random", "--budget", "3000", "--store", str(path), "--name", "big", "--json",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = _run("importance", "--store", str(path), "--name", "big", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["trials"] == 3000
    assert [d["label"] for d in payload["decisions"][:2]] == ["node3_in0", "node1_in0"]
    assert abs(payload["interaction_share"] - 0.71) < 0.1
    assert payload["notes"] == []
    code, out, err = _run("explain", "--store", str(path), "--name", "big", "--json")
    assert code == 0, err
    assert json.loads(out)["neighbours"]
