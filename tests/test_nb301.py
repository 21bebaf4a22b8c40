"""The darts space on the NAS-Bench-301 surrogate (YAHPO Gym v2, through onnxruntime)."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.errors import ArchError, ConfigError
from nasforge.evaluate.nb301 import NB301Surrogate, nb301_config
from nasforge.space import DartsSpace
from nasforge.space.darts.genotype import parse_genotype

runner = CliRunner()
REPEATED = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@pytest.fixture(scope="module")
def folder() -> Path:
    return shared_file("NASFORGE_NB301", "benchmarks", "nb301_surrogate", "model_v2.onnx").parent


@pytest.fixture(scope="module")
def surrogate(folder: Path) -> NB301Surrogate:
    return NB301Surrogate(folder)


def test_darts_v2_predicts_0_9291_at_epoch_98(surrogate: NB301Surrogate) -> None:
    space = surrogate.space
    arch = space.parse("DARTS_V2")
    assert surrogate.encode(space.to_genotype(arch)) == [
        *[5, 5, 5, 5, 0, 7, 5, 0, 0, 7, 0, 2, 0, 0],
        *[4, 4, 0, 4, 7, 4, 0, 7, 0, 0, 4, 7, 0, 0],
        *[1, 1, 2, 3, 2, 5],
    ]
    result = surrogate.evaluate(arch)
    assert result.metrics["valid_acc"] / 100 == pytest.approx(0.9291, abs=1e-3)
    assert result.cost == pytest.approx(result.metrics["runtime_s"]) and result.cost > 1000
    early = surrogate.evaluate(arch, budget=10)
    assert early.metrics["valid_acc"] < result.metrics["valid_acc"]
    assert early.cost < result.cost


def test_genotypes_outside_nb301_are_refused(surrogate: NB301Surrogate) -> None:
    with pytest.raises(ArchError, match="input 0 twice"):
        nb301_config(parse_genotype(REPEATED))
    with pytest.raises(ArchError, match="not one of NAS-Bench-301's 7 ops"):
        nb301_config(
            parse_genotype(
                REPEATED.replace(
                    "('sep_conv_3x3', 0), ('sep_conv_3x3', 0)", "('none', 0), ('sep_conv_3x3', 1)"
                )
            )
        )
    with pytest.raises(ConfigError, match="nodes=4"):
        NB301Surrogate(surrogate.path, space=DartsSpace(nodes=5))


def test_the_nb301_space_proposes_distinct_inputs_only() -> None:
    space = DartsSpace(distinct_inputs=True)
    rng = np.random.default_rng(0)
    for _ in range(100):
        arch, other = space.sample(rng), space.sample(rng)
        for made in (arch, space.mutate(arch, rng), space.crossover(arch, other, rng)):
            nb301_config(space.to_genotype(space.validate(made)))
    assert all(space.validate(n) == n for n in space.neighbors(arch))
    assert "DARTS_V2" in space.named_architectures()


def _query(folder: Path, arch: str, *extra: str) -> Any:
    args = ["query", arch, "--evaluator", "nb301", "--benchmark", str(folder), *extra]
    return runner.invoke(app, args)


def test_query_prints_one_surrogate_prediction(folder: Path) -> None:
    shown = _query(folder, "DARTS_V2")
    assert shown.exit_code == 0, shown.output
    assert "92.91%" in shown.stdout and "surrogate prediction" in shown.stdout
    payload = json.loads(_query(folder, "DARTS_V2", "--json", "--fidelity", "50").stdout)
    assert payload["epoch"] == 50 and "surrogate" in payload["note"]


@pytest.mark.parametrize(
    ("arch", "needle"),
    [
        (REPEATED, "input 0 twice"),
        (REPEATED.replace("'sep_conv_3x3', 1", "'none', 1", 1), "'none'"),
        (REPEATED.replace("'sep_conv_3x3', 1", "'sep_conv_7x7', 1", 1), "'sep_conv_7x7'"),
    ],
)
def test_query_refuses_a_genotype_outside_nb301_with_one_line(
    folder: Path, arch: str, needle: str
) -> None:
    refused = _query(folder, arch)
    assert refused.exit_code == 2
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], refused.output


def test_missing_onnxruntime_names_the_extra(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_onnxruntime(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    store = tmp_path / "s.db"
    search = ["search", "--space", "darts", "--evaluator", "nb301", "--benchmark"]
    for args in (
        ["query", "DARTS_V2", "--evaluator", "nb301", "--benchmark", str(folder)],
        [*search, str(folder), "--store", str(store)],
    ):
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2, refused.output
        lines = [line for line in refused.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "nasforge[onnx]" in lines[0]
    assert not store.exists()


def test_search_on_nb301_every_query_a_prediction_and_resume(folder: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "s.db")
    common = ["--space", "darts", "--evaluator", "nb301", "--benchmark", str(folder)]
    first = runner.invoke(
        app, ["search", *common, "--budget", "12", "--store", store, "--name", "x", "--json"]
    )
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["counts"]["failed"] == 0 and "surrogate" in payload["note"]
    resumed = runner.invoke(app, ["resume", "--store", store, "--name", "x", "--budget", "20"])
    assert resumed.exit_code == 0, resumed.output
    assert "surrogate prediction" in resumed.stdout
    wrong = runner.invoke(app, ["search", *common[2:], "--space", "nb201", "--store", store])
    assert wrong.exit_code == 2 and "space 'darts' only" in wrong.output


def test_proxies_recomputed_on_genotypes_of_the_naslib_csv(folder: Path) -> None:
    """Two genotypes of nb301_zc_725.csv built by the darts space as NAS-Bench-301 trained
    them (32 channels, 8 cells): nasforge's parameter count within 2% of NASLib's, and its
    synflow (log) within 2% of NASLib's score of the same genotype."""
    import csv

    from nasforge.proxies import ProxyBatch
    from nasforge.proxies.scoring import score_archs
    from nasforge.space import make_space

    with (folder / "nb301_zc_725.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:2]
    space = make_space("darts", channels=32, layers=8, distinct_inputs=True)
    archs = [space.parse(row["genotype"]) for row in rows]
    batch = ProxyBatch(input_shape=(3, 32, 32), num_classes=10)
    scored = score_archs(space, archs, ["params", "synflow"], batch, share_isomorphic=False)
    for i, row in enumerate(rows):
        assert scored.scores["params"][i] / 1e6 == pytest.approx(float(row["params"]), rel=0.02)
        assert scored.scores["synflow"][i] == pytest.approx(float(row["synflow"]), rel=0.02)
    assert scored.scores["params"][0] != scored.scores["params"][1]
