"""Any table as a benchmark: `TableSpace` (its archs are exactly the rows, decisions inactive
where a cell is empty), `TableEvaluator`, and ``nasforge search --table``."""

from __future__ import annotations

import csv
import functools
import json
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.errors import ArchError, BenchmarkError
from nasforge.evaluate import TableEvaluator, make_evaluator
from nasforge.objective import Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space import TableSpace, make_space
from nasforge.space.stored import read_space, space_config
from nasforge.space.table.data import TableData
from nasforge.strategy import STRATEGIES, make_strategy
from nasforge.testing.strategy_conformance import (
    ConformanceSpace,
    StrategyConformance,
    StrategySpec,
    conditional_metrics,
    conditional_space,
)

runner = CliRunner()
DECISIONS = ["width", "depth", "op_0", "kernel_0", "op_1", "kernel_1", "op_2", "kernel_2"]
DECISIONS += ["pool", "pool_size"]


def _dropped(arch: Arch) -> bool:
    """A third of the conditional space is missing from the table (an incomplete table)."""
    return zlib.crc32(str(arch).encode()) % 3 == 0


def write_table(path: Path) -> None:
    """The conformance suite's conditional space as a table, blank where a decision is
    inactive, without the `_dropped` archs; ``score`` and ``convs`` as the suite computes
    them, ``test`` a report column."""
    rows = []
    for arch in conditional_space().enumerate():
        if _dropped(arch):
            continue
        metrics = conditional_metrics(arch)
        row = {label: arch.get(label, "") for label in DECISIONS}
        rows.append({**row, **metrics, "test": metrics["score"] / 2})
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*DECISIONS, "score", "convs", "test"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


@functools.cache
def table_space() -> TableSpace:
    """The incomplete conditional table as a space, one per process (module level, so
    that a spawned process of the conformance suite can rebuild it)."""
    path = Path(tempfile.gettempdir()) / "nasforge-conformance-table.csv"
    write_table(path)
    return TableSpace(path, DECISIONS, ["score"])


TABLE = ConformanceSpace("table", table_space, conditional_metrics)
SPECS = [StrategySpec(name, seed_independent=name == "grid") for name in sorted(STRATEGIES)]
SPECS = [spec for spec in SPECS if spec.name != "warm-start"] + [
    StrategySpec("evolution", {"crossover_prob": 0.5}),
    StrategySpec("optuna", {"sampler": "nsga2"}),
]


@pytest.mark.slow
class TestEveryStrategyOnATable(StrategyConformance):
    """The conformance suite on an incomplete table with conditional blanks: proposals
    must be rows (`TableSpace.validate` accepts rows only) without inactive decisions."""

    @pytest.fixture(params=SPECS, ids=str)
    def strategy_spec(self, request: pytest.FixtureRequest) -> StrategySpec:
        spec: StrategySpec = request.param
        return spec

    @pytest.fixture
    def conformance_space(self) -> ConformanceSpace:
        return TABLE


@pytest.fixture
def space() -> TableSpace:
    return table_space()


def test_the_space_is_the_rows_and_blanks_are_inactive(space: TableSpace) -> None:
    every = list(conditional_space().enumerate())
    kept = [arch for arch in every if not _dropped(arch)]
    assert 0 < len(kept) < len(every)
    assert space.size() == len(kept)
    assert list(space.enumerate()) == kept
    assert space.conditional
    short = next(arch for arch in kept if arch["depth"] == 1 and arch["op_0"] == "skip")
    assert "op_1" not in short and "kernel_0" not in short
    assert space.parse(str(short)) == short
    missing = next(arch for arch in every if _dropped(arch))
    with pytest.raises(ArchError, match="not a row"):
        space.validate(missing)


@pytest.mark.parametrize("name", ["random", "evolution", "local", "nsga2", "bayesian", "hyperband"])
def test_strategies_never_propose_a_missing_row(space: TableSpace, name: str) -> None:
    evaluator = TableEvaluator(space)
    result = Experiment(
        space,
        make_strategy(name, space, seed=2),
        evaluator,
        budget=Budget(queries=60),
        objective=Objective("score"),
        deduplicate="none",
    ).run()
    rows = set(space.data.archs)
    assert len(result.trials) >= 60
    assert all(t.status.value == "ok" for t in result.trials)
    assert all(Arch.parse(t.arch) in rows for t in result.trials)


def test_operations_land_on_rows(space: TableSpace) -> None:
    rng = np.random.default_rng(0)
    rows = set(space.data.archs)
    for _ in range(200):
        arch, other = space.sample(rng), space.sample(rng)
        mutated = space.mutate(arch, rng)
        assert mutated in rows and mutated != arch
        assert space.crossover(arch, other, rng) in rows
        assert space.resolve(space.complete(arch)) == arch
        assert space.encode(arch).shape == space.encode(other).shape
    neighbors = space.neighbors(arch)
    assert neighbors and all(n in rows and n != arch for n in neighbors)
    assert len(set(neighbors)) == len(neighbors)
    asked = space.sample_with(lambda d: d.choices[-1])
    assert asked in rows


def test_lookup_returns_the_row_and_the_store_rebuilds_the_space(space: TableSpace) -> None:
    arch = space.data.archs[5]
    result = TableEvaluator(space).evaluate(arch)
    assert result.metrics["score"] == pytest.approx(conditional_metrics(arch)["score"])
    config = space_config(space)
    assert config["name"] == "table"
    rebuilt = read_space(config)
    assert isinstance(rebuilt, TableSpace) and list(rebuilt.enumerate()) == space.data.archs
    again = make_evaluator("table", rebuilt, report=["test"], cost_column=None)
    assert again.evaluate(arch).metrics == result.metrics


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_duplicate_rows_are_averaged_with_a_note(tmp_path: Path) -> None:
    table = _write(tmp_path / "t.csv", "a,b,y\n1,x,1.0\n1,x,3.0\n2,x,5.0\n2,,7.0\n")
    space = TableSpace(table, ["a", "b"], ["y"])
    assert [str(a) for a in space.data.archs] == ["a=1,b=x", "a=2,b=x", "a=2"]
    assert TableEvaluator(space).evaluate(Arch.parse("a=1,b=x")).metrics["y"] == 2.0
    assert len(space.data.notes) == 1 and "averaged" in space.data.notes[0]


def _search(tmp_path: Path, table: Path, *extra: str) -> tuple[int, str]:
    store = tmp_path / "s.db"
    result = runner.invoke(
        app,
        ["search", "--table", str(table), "--store", str(store), "--budget", "12", *extra],
    )
    return result.exit_code, result.output


def test_cli_searches_a_table_with_json_arch_text_and_mapping(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    write_table(table)
    args = ["search", "--table", str(table), "--decisions", ",".join(DECISIONS)]
    args += ["--objective", "score:max", "--report", "test", "--budget", "15"]
    args += ["--store", str(tmp_path / "s.db"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    best = json.loads(result.stdout)["best"]
    assert best["choices"] == dict(Arch.parse(best["arch"]))
    assert "test" in best["metrics"]
    shown = runner.invoke(app, [*args[:-1], "--name", "shown"])
    assert shown.exit_code == 0, shown.output
    assert "test (report only)" in shown.stdout


def _journal(store: Path, name: str) -> list[tuple[str, float | None]]:
    with Store(store) as journal:
        record = journal.experiment(name)
        return [(t.arch, t.score) for t in journal.trials(record.id)]


def test_same_seed_same_trials_run_after_run_and_after_resume(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    write_table(table)
    common = ["--table", str(table), "--decisions", ",".join(DECISIONS)]
    common += ["--objective", "score:max", "--seed", "4", "--json"]
    for name, budget in (("a", "30"), ("b", "30"), ("c", "12")):
        store = str(tmp_path / f"{name}.db")
        result = runner.invoke(
            app, ["search", *common, "--budget", budget, "--store", store, "--name", "x"]
        )
        assert result.exit_code == 0, result.output
    resumed = runner.invoke(
        app, ["resume", "--store", str(tmp_path / "c.db"), "--name", "x", "--budget", "30"]
    )
    assert resumed.exit_code == 0, resumed.output
    first = _journal(tmp_path / "a.db", "x")
    assert first == _journal(tmp_path / "b.db", "x") == _journal(tmp_path / "c.db", "x")


def test_reading_commands_work_on_a_table_experiment(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    write_table(table)
    store = str(tmp_path / "s.db")
    args = ["search", "--table", str(table), "--decisions", ",".join(DECISIONS)]
    args += ["--objective", "score:max", "--budget", "40", "--store", store, "--strategy", "random"]
    assert runner.invoke(app, args).exit_code == 0
    for command in (["best"], ["status"], ["importance"], ["explain"]):
        result = runner.invoke(app, [*command, "--store", store])
        assert result.exit_code == 0, (command, result.output)
    report = runner.invoke(app, ["report", "--store", store, "--out", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output


GOOD = "a,b,y,z,name\n1,x,1.0,2,p\n2,x,3.0,4,q\n2,w,5.0,,r\n"
BAD_INPUT = {
    "no such decision column": (GOOD, ["--decisions", "a,nope", "--objective", "y"], "'nope'"),
    "no such objective column": (GOOD, ["--decisions", "a,b", "--objective", "nope"], "'nope'"),
    "objective not numbers": (GOOD, ["--decisions", "a,b", "--objective", "name"], "not a number"),
    "no row with every objective": (
        "a,y,z\n1,1.0,\n2,,3\n",
        ["--decisions", "a", "--objective", "y", "--objective", "z:min"],
        "no row has a number in every objective",
    ),
    "one row": ("a,y\n1,2.0\n", ["--decisions", "a", "--objective", "y"], "at least two"),
    "empty file": ("", ["--decisions", "a", "--objective", "y"], "is empty"),
    "header only": ("a,y\n", ["--decisions", "a", "--objective", "y"], "no rows"),
    "no objective": (GOOD, ["--decisions", "a,b"], "needs --objective"),
    "no decisions": (GOOD, ["--objective", "y"], "needs --decisions"),
    "report not a column": (
        GOOD,
        ["--decisions", "a,b", "--objective", "y", "--report", "nope"],
        "report column 'nope'",
    ),
    "unknown constraint": (
        GOOD,
        ["--decisions", "a,b", "--objective", "y", "--constraint", "nope<=3"],
        "unknown constraint metric 'nope'",
    ),
    "parquet": (GOOD, ["--decisions", "a", "--objective", "y"], "Parquet is not supported"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_table_input_is_one_line_exit_2_nothing_written(tmp_path: Path, case: str) -> None:
    text, args, needle = BAD_INPUT[case]
    table = _write(tmp_path / ("t.parquet" if case == "parquet" else "t.csv"), text)
    code, output = _search(tmp_path, table, *args)
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasforge: error:"), output
    assert needle in lines[0]
    assert not (tmp_path / "s.db").exists()


def test_set_choices_moves_many_rows_to_the_nearest_rows_with_the_choices(
    space: TableSpace,
) -> None:
    """The batch form that decision importance uses gives, row for row, what `resolve` of
    `complete` with the choices set gives among the rows that hold those choices (all rows
    when none does); a set choice is never lost where a row holds it."""
    rng = np.random.default_rng(0)
    rows = space.data.codes[rng.integers(space.size(), size=60)]
    decisions, codes = space.decisions, space.data.codes
    changed = 0
    for choices in ({1: 0}, {1: 1}, {2: 1, 8: 0}, {0: 1, 9: 1}, {3: 0, 5: 1}):
        batch = space.set_choices(rows, choices)
        holding = np.all([codes[:, j] == k for j, k in choices.items()], axis=0)
        among = _rows(space, holding) if holding.any() else space
        for row, got in zip(rows, batch, strict=True):
            assignment = space.complete(_arch(space, row))
            for column, index in choices.items():
                assignment[decisions[column].label] = decisions[column].choices[index]
            assert among.resolve(assignment) == _arch(space, got)
            assert not holding.any() or all(got[j] == k for j, k in choices.items())
            changed += not np.array_equal(row, got)
    assert changed > 100


def _arch(space: TableSpace, codes: np.ndarray) -> Arch:
    return space.data.arch_of(codes)


def _rows(space: TableSpace, keep: np.ndarray) -> TableSpace:
    """The table of `space` cut to the rows `keep` allows."""
    data = space.data
    archs = [arch for arch, kept in zip(data.archs, keep, strict=True) if kept]
    metrics = {name: values[keep] for name, values in data.metrics.items()}
    return TableSpace.from_data(
        TableData(data.path, data.decisions, data.codes[keep], metrics, archs)
    )


def test_a_table_space_builds_no_network(space: TableSpace) -> None:
    with pytest.raises(Exception, match="nothing to build"):
        space.build(space.data.archs[0])
    with pytest.raises(BenchmarkError, match="no decision column"):
        make_space("table", path=str(space.path), decisions=["nope"], objectives=["score"])


@pytest.fixture(scope="module")
def benchmarks_dir() -> Path:
    return shared_file("NASFORGE_BENCHMARKS", "benchmarks", "hw_gpt_bench", "hwgpt_s.csv").parents[
        1
    ]


def test_hwgpt_s_is_one_command_with_layers_inactive_beyond_the_depth(
    benchmarks_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NASFORGE_BENCHMARKS", str(benchmarks_dir))
    args = ["search", "--benchmark", "hwgpt-s", "--objective", "perplexity:min"]
    args += ["--objective", "latency_ms_a100:min", "--strategy", "nsga2", "--budget", "30"]
    result = runner.invoke(app, [*args, "--store", str(tmp_path / "s.db"), "--json"])
    assert result.exit_code == 0, result.output
    front = json.loads(result.stdout)["best"]
    assert front
    for trial in front:
        choices = trial["choices"]
        depth = choices["n_layer"]
        assert f"head_{depth - 1}" in choices and f"head_{depth}" not in choices
        assert f"mlp_{depth}" not in choices and "perplexity" in trial["metrics"]
    monkeypatch.delenv("NASFORGE_BENCHMARKS")
    missing = runner.invoke(app, [*args, "--store", str(tmp_path / "t.db")])
    assert missing.exit_code == 2 and "--benchmark-dir" in missing.output
    assert not (tmp_path / "t.db").exists()
