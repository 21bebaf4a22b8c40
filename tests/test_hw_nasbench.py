"""HW-NAS-Bench device metrics joined to the NB201 table (`nasforge.evaluate.hw_nasbench`)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.errors import BenchmarkError
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.evaluate.hw_nasbench import DEVICES, metric_name, read_hw_columns
from nasforge.space import NB201Space

runner = CliRunner()
# row 0 of hw_nasbench201.csv.gz, as the file has it
ROW0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|"
)
ROW0_VALUES = {
    "latency_ms_raspi4_cifar10": 10.482,
    "latency_ms_edgetpu_cifar10": 0.957181,
    "latency_ms_pixel3_cifar100": 5.04007,
    "energy_mj_fpga_imagenet16": 4.54384,
    "energy_mj_eyeriss_cifar10": 0.687283,
}


@pytest.fixture(scope="module")
def hw_file() -> Path:
    return shared_file("NASFORGE_HW_NB201", "benchmarks", "hw_nasbench201.csv.gz")


def test_column_names_become_metric_names() -> None:
    assert metric_name("raspi4_latency_cifar10") == "latency_ms_raspi4_cifar10"
    assert metric_name("edgegpu_energy_imagenet16") == "energy_mj_edgegpu_imagenet16"
    assert metric_name("eyeriss_arithmetic_intensity_cifar100") == (
        "arithmetic_intensity_eyeriss_cifar100"
    )
    assert metric_name("arch") is None and metric_name("mars_latency_cifar10") is None


def test_a_known_cell_reports_the_files_device_values(
    hw_file: Path, nb201_table: NB201Table
) -> None:
    # the table fixture joined the file the hw_file fixture found (beside nb201.csv)
    evaluator = NB201Benchmark(nb201_table, fidelity=200)
    metrics = evaluator.evaluate(NB201Space().parse(ROW0)).metrics
    for name, value in ROW0_VALUES.items():
        assert metrics[name] == pytest.approx(value)
    names = evaluator.metric_names()
    for device in DEVICES:
        assert f"latency_ms_{device}_cifar10" in names


def test_a_device_objective_searches_and_an_unknown_one_is_refused(
    nb201_csv_path: Path, tmp_path: Path
) -> None:
    common = [
        "search",
        "--space",
        "nb201",
        "--benchmark",
        str(nb201_csv_path),
        "--store",
        str(tmp_path / "s.sqlite"),
    ]
    result = runner.invoke(
        app,
        [
            *common,
            "--strategy",
            "nsga2",
            "--budget",
            "30",
            "--name",
            "pi",
            "--objective",
            "valid_acc",
            "--objective",
            "latency_ms_raspi4_cifar10:min",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    front = json.loads(result.stdout)["best"]
    assert front and all("latency_ms_raspi4_cifar10" in t["metrics"] for t in front)
    refused = runner.invoke(app, [*common, "--objective", "latency_ms_mars_cifar10:min"])
    assert refused.exit_code == 2
    assert "unknown objective metric 'latency_ms_mars_cifar10'" in refused.output


def test_a_file_missing_archs_is_a_clear_error(tmp_path: Path, nb201_table: NB201Table) -> None:
    partial = tmp_path / "hw.csv.gz"
    with gzip.open(partial, "wt") as handle:
        handle.write("idx,arch,raspi4_latency_cifar10\n0," + ROW0 + ",1.0\n")
    with pytest.raises(BenchmarkError, match="lacks 15624 of the table's archs"):
        read_hw_columns(partial, nb201_table.arch_strings)
