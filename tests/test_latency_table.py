"""Latency lookup tables of the mobilenet space: contents, prediction, refusals, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import ConfigError
from nasforge.measure.latency_table import LatencyTable, build_latency_table, calibration_fit
from nasforge.space import NB201Space, make_space
from nasforge.space.mobilenet.latency import all_latency_units, latency_units

runner = CliRunner()
SMALL = {"width_mult": 0.25, "kernels": [3, 5], "expansions": [3]}
SHAPE = (3, 32, 32)


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    space = make_space("mobilenet", **SMALL)
    table = build_latency_table(
        space, SHAPE, 5, threads=1, repeats=2, rounds=1, calibration_networks=4
    )
    path = tmp_path_factory.mktemp("latency") / "table.json"
    table.save(path)
    return path


def test_table_holds_every_unit_and_predicts_calibrated_sums(table_file: Path) -> None:
    space = make_space("mobilenet", **SMALL)
    table = LatencyTable.load(table_file)
    table.check_matches(space)
    assert set(table.entries) == {u.key for u in all_latency_units(space, SHAPE, 5)}
    assert all(ms > 0 for ms in table.entries.values())
    rng = np.random.default_rng(3)
    for _ in range(5):
        arch = space.sample(rng)
        units = latency_units(space, arch, SHAPE, 5)
        assert len(units) == 2 + len(space.blocks(arch))  # stem, blocks, head
        plain = sum(table.entries[u.key] for u in units)
        assert table.unit_sum(space, arch) == pytest.approx(plain)
        assert table.predict(space, arch) == pytest.approx(table.offset + table.scale * plain)
    assert len(table.calibration) == 4 and table.scale > 0


def test_calibration_keeps_a_fixed_overhead_and_never_a_negative_one() -> None:
    # A clean line: its slope and overhead come back.
    assert calibration_fit([1.0, 2.0, 4.0], [1.7, 2.9, 5.3]) == pytest.approx((1.2, 0.5))
    # Three noisy networks whose least-squares line has offset -24.9 ms (fits of -9 and
    # -21 ms were seen under load): the line through the origin instead, so no arch is
    # predicted below zero.
    assert calibration_fit([3.0, 3.2, 3.4], [2.0, 4.0, 5.6]) == pytest.approx((43 / 35, 0.0))


def test_units_follow_the_strides() -> None:
    space = make_space("mobilenet", **SMALL)
    units = latency_units(space, space.sample(np.random.default_rng(0)), (3, 64, 64), 5)
    assert units[0].kind == "stem" and units[0].size == 64
    assert units[1].size == 32  # after the stem's stride 2
    assert units[-1].kind == "head" and units[-1].size == 2  # 64 / 2**5


def _edited(table_file: Path, tmp_path: Path, edit: dict[str, dict[str, object]]) -> Path:
    data = json.loads(table_file.read_text())
    for section, values in edit.items():
        data[section].update(values)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"machine": {"cpu": "Some Other CPU"}}, "built on another machine (cpu Some Other CPU"),
        ({"machine": {"torch": "1.0.0"}}, "built on another machine (torch 1.0.0"),
        ({"space": {"version": 0}}, "version 0 of the mobilenet network"),
        ({"space": {"params": {"width_mult": 1.0}}}, "other options of space 'mobilenet'"),
    ],
)
def test_a_table_that_does_not_fit_is_refused(
    table_file: Path, tmp_path: Path, edit: dict[str, dict[str, object]], message: str
) -> None:
    table = LatencyTable.load(_edited(table_file, tmp_path, edit))
    with pytest.raises(ConfigError, match="latency table"):
        table.check_matches(make_space("mobilenet", **SMALL))
    result = runner.invoke(app, ["latency", "check", "--table", str(tmp_path / "edited.json")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_predict_from_the_cli_and_bad_tables(table_file: Path, tmp_path: Path) -> None:
    space = make_space("mobilenet", **SMALL)
    arch = space.sample(np.random.default_rng(0))
    options = [arg for key, value in SMALL.items() for arg in ("-s", f"{key}={json.dumps(value)}")]
    result = runner.invoke(
        app, ["latency", "predict", str(arch), "--table", str(table_file), *options]
    )
    assert result.exit_code == 0, result.output
    assert float(result.stdout) == pytest.approx(
        LatencyTable.load(table_file).predict(space, arch), rel=1e-3
    )
    other = runner.invoke(app, ["latency", "predict", "mobilenetv2", "--table", str(table_file)])
    assert other.exit_code == 2 and "other options of space 'mobilenet'" in other.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for path, message in ((broken, "is not a latency table"), (tmp_path / "no.json", "no latency")):
        result = runner.invoke(app, ["latency", "check", "--table", str(path)])
        assert result.exit_code == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_table_naming_code_is_refused_without_importing_it(
    table_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table is shared like a store: `latency check` never imports a space it names."""
    marker = tmp_path / "imported"
    (tmp_path / "planted.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(tmp_path)
    edited = _edited(table_file, tmp_path, {"space": {"name": "planted.py:Net"}})
    result = runner.invoke(app, ["latency", "check", "--table", str(edited)])
    assert result.exit_code == 2, result.output
    assert "'planted.py:Net', which is code to import" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_check_reports_agreement(table_file: Path) -> None:
    result = runner.invoke(
        app, ["latency", "check", "--table", str(table_file), "--networks", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["networks"] == 4 and len(report["measured_ms"]) == 4
    assert -1.0 <= report["spearman"] <= 1.0 and report["mape"] >= 0


def test_only_the_mobilenet_space_has_tables() -> None:
    with pytest.raises(ConfigError, match="space 'nb201' has no latency lookup table"):
        build_latency_table(NB201Space(), SHAPE, 10)
    result = runner.invoke(app, ["latency", "build", "--space", "nb201"])
    assert result.exit_code == 2 and "no latency lookup table" in result.stderr


DIGITS_SPACE = {"width_mult": 0.25, "resolution": 32, "kernels": [3], "expansions": [3]}


@pytest.fixture(scope="module")
def digits_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    space = make_space("mobilenet", **DIGITS_SPACE)
    table = build_latency_table(
        space, (1, 8, 8), 10, threads=1, repeats=2, rounds=1, calibration_networks=3
    )
    path = tmp_path_factory.mktemp("digits-latency") / "table.json"
    table.save(path)
    return path


def _space_args() -> list[str]:
    return [arg for k, v in DIGITS_SPACE.items() for arg in ("-s", f"{k}={json.dumps(v)}")]


def test_search_screens_candidates_by_predicted_latency(digits_table: Path, tmp_path: Path) -> None:
    from nasforge.run.storage import Store

    table = LatencyTable.load(digits_table)
    space = make_space("mobilenet", **DIGITS_SPACE)
    rng = np.random.default_rng(0)
    predictions = sorted(table.predict(space, space.sample(rng)) for _ in range(40))
    bound = predictions[len(predictions) // 2]  # about half the space breaks it
    store = tmp_path / "s.sqlite"
    result = runner.invoke(
        app,
        ["search", "--space", "mobilenet", *_space_args(), "--epochs", "1", "--budget", "8",
         "--workers", "1", "--latency-table", str(digits_table), "--constraint",
         f"latency_ms_predicted<={bound}", "--final-epochs", "0", "--store", str(store),
         "--name", "lt", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store(store, read_only=True) as journal:
        trials = [t for t in journal.trials(journal.experiment("lt").id) if t.evaluated]
    assert len(trials) == 8
    for trial in trials:
        predicted = trial.metrics["latency_ms_predicted"]
        if predicted > bound:  # screened: never trained
            assert trial.status.value == "failed" and "accuracy" not in trial.metrics
        else:
            assert trial.status.value == "ok" and "accuracy" in trial.metrics
            assert trial.metrics["latency_ms_predicted"] == pytest.approx(
                table.predict(space, space.parse(trial.arch)), rel=1e-9
            )
    assert any(t.status.value == "failed" for t in trials)
    assert any(t.status.value == "ok" for t in trials)


def test_a_table_for_another_input_or_a_benchmark_search_is_refused(tmp_path: Path) -> None:
    space = make_space("mobilenet", **DIGITS_SPACE)
    other = build_latency_table(
        space, (1, 8, 8), 5, threads=1, repeats=1, rounds=1, calibration_networks=0
    )
    path = tmp_path / "five-classes.json"
    other.save(path)
    for args, message in (
        ([*_space_args(), "--latency-table", str(path)],
         "built for input [1, 8, 8] and 5 classes, the task has [1, 8, 8] and 10"),
        (["--benchmark", "x.csv", "--latency-table", str(path)],
         "--latency-table is for searches that train"),
        ([*_space_args(), "--constraint", "latency_ms_predicted<=3"],
         "latency_ms_predicted"),
    ):  # fmt: skip
        result = runner.invoke(app, ["search", "--space", "mobilenet", "--budget", "2", *args])
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
