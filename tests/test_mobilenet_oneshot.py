"""One-shot search on the mobilenet space: its supernet (children equal supernet paths),
the expected latency of architecture weights, latency-steered DARTS and SPOS, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.data.loaders import load_digits_task, task_from_arrays
from nasforge.data.task import Task
from nasforge.errors import ConfigError
from nasforge.measure.latency_table import LatencyTable, build_latency_table
from nasforge.oneshot import OneShotResult, make_method
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.latency_loss import ExpectedLatency, LatencyPenalty
from nasforge.space import NB201Space, make_space
from nasforge.space.mobilenet.space import MobileNetSpace

runner = CliRunner()
SPACE = {
    "width_mult": 0.25,
    "resolution": 32,
    "kernels": [3, 5],
    "expansions": [3, 6],
    "depths": [[1], [1, 2], [1, 2], [1, 2], [1], [1, 2], [1]],
}
DIGITS = (1, 8, 8)
NAMED = ("mobilenetv2", "efficientnet-b0")


def _space() -> MobileNetSpace:
    space = make_space("mobilenet", **SPACE)
    assert isinstance(space, MobileNetSpace)
    return space


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table = build_latency_table(
        _space(), DIGITS, 10, threads=1, repeats=2, rounds=1, calibration_networks=3
    )
    path = tmp_path_factory.mktemp("mobilenet-oneshot") / "table.json"
    table.save(path)
    return path


def _trained_supernet(space: MobileNetSpace, steps: int = 6) -> torch.nn.Module:
    """A supernet whose weights and BatchNorm statistics moved away from their init."""
    torch.manual_seed(0)
    supernet = space.supernet((3, 32, 32), 10, affine=True)
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.05)
    rng = np.random.default_rng(1)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    for _ in range(steps):
        supernet.use_path(space.sample(rng))
        loss = F.cross_entropy(supernet(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return supernet.eval()


def test_a_child_equals_its_supernet_path() -> None:
    """Sampled archs (other widths, depths, expansions, kernels, SE, activation): the
    supernet's single path and the child built with its weights compute the same."""
    space = _space()
    supernet = _trained_supernet(space)
    x = torch.randn(4, 3, 32, 32)
    rng = np.random.default_rng(7)
    for _ in range(4):
        arch = space.sample(rng)
        supernet.use_path(arch)
        child = supernet.child(arch).eval()
        assert sum(p.numel() for p in child.parameters()) == sum(
            p.numel() for p in space.build(arch).parameters()
        )
        torch.testing.assert_close(supernet(x), child(x), rtol=1e-5, atol=1e-5)


def test_one_hot_weights_run_the_chosen_blocks() -> None:
    """Mixed mode with one-hot weights on kernel, SE and activation is the child of those
    choices at the largest widths, depths and expansions."""
    space = _space()
    supernet = _trained_supernet(space)
    rng = np.random.default_rng(3)
    arch = space.sample(rng)
    largest = {
        d.label: max(d.choices)
        for d in space.decisions
        if d.label.endswith(("_width", "_depth", "_expand"))
    }
    arch = space.validate(arch.replace(**largest))
    weights = {}
    for decision in space.op_decisions():
        one_hot = torch.zeros(len(decision.choices))
        one_hot[decision.index(arch[decision.label])] = 1.0
        weights[decision.label] = one_hot
    supernet.use_weights(weights)
    x = torch.randn(4, 3, 32, 32)
    child = supernet.child(arch).eval()
    torch.testing.assert_close(supernet(x), child(x), rtol=1e-5, atol=1e-5)


def test_the_network_keeps_the_reference_sizes() -> None:
    space = make_space("mobilenet")
    sizes = {
        name: sum(
            p.numel() for p in space.build(space.parse(name), (3, 224, 224), 1000).parameters()
        )
        for name in ("mobilenetv2", "efficientnet-b0")
    }
    assert sizes == {"mobilenetv2": 3_504_872, "efficientnet-b0": 5_288_548}


def test_expected_latency_of_one_hot_weights_is_the_table_prediction(table_file: Path) -> None:
    space = _space()
    table = LatencyTable.load(table_file)
    expected = ExpectedLatency(space, table, DIGITS, 10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = space.sample(rng)
        probabilities = {
            d.label: F.one_hot(torch.tensor(d.index(arch[d.label])), len(d.choices)).float()
            for d in space.op_decisions()
        }
        values = {d.label: arch[d.label] for d in space.decisions if d not in space.op_decisions()}
        assert float(expected(probabilities, values)) == pytest.approx(
            table.predict(space, arch), rel=1e-5
        )


def test_the_latency_penalty_pulls_the_weights_to_faster_choices(table_file: Path) -> None:
    space = _space()
    table = LatencyTable.load(table_file)
    penalty = LatencyPenalty(ExpectedLatency(space, table, DIGITS, 10), target_ms=1.0, weight=1.0)
    logits = {
        d.label: torch.zeros(len(d.choices), requires_grad=True) for d in space.op_decisions()
    }
    values = {d.label: max(d.choices) for d in space.decisions if d not in space.op_decisions()}
    optimizer = torch.optim.Adam(list(logits.values()), lr=0.1)
    first = penalty(logits, values)[1]
    for _ in range(60):
        loss, _ = penalty(logits, values)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    last = penalty(logits, values)[1]
    expected = ExpectedLatency(space, table, DIGITS, 10)
    # The latency is bilinear in the shared activation and the blocks' choices: descent
    # reaches the fastest blocks under the activation it settles on (a local minimum),
    # which is the global one only when the measured table favours it from the start.
    settled = int(torch.argmax(logits["activation"]))
    lowest = expected.lowest_per_activation(values)[settled]
    assert expected.lowest(values) == min(expected.lowest_per_activation(values))
    assert last < first
    assert last - lowest < 0.2 * (first - lowest)


def _search(
    method: str, table: LatencyTable | None, target: float | None, **options: object
) -> OneShotResult:
    task = load_digits_task()
    latency = {} if table is None else {"latency_table": table, "latency_target": target}
    searcher = make_method(method, _space(), **latency, **options)
    return searcher.search(task, epochs=1, batch_size=64, seed=0)


def _percentile_latency(table: LatencyTable, share: float) -> float:
    space, rng = _space(), np.random.default_rng(0)
    return float(np.quantile([table.predict(space, space.sample(rng)) for _ in range(300)], share))


def test_spos_searches_only_archs_within_the_target(table_file: Path) -> None:
    table = LatencyTable.load(table_file)
    target = _percentile_latency(table, 0.2)
    result = _search("spos", table, target, population_size=6, generations=2, score_examples=200)
    assert result.latency_ms is not None and result.latency_ms <= target
    unconstrained = _search("spos", None, None, population_size=6, generations=2,
                            score_examples=200)  # fmt: skip
    assert unconstrained.latency_ms is None


def test_darts_with_a_latency_term_ends_faster_than_without(table_file: Path) -> None:
    table = LatencyTable.load(table_file)
    space = _space()
    largest = {d.label: max(d.choices) for d in space.decisions if d not in space.op_decisions()}
    lowest = ExpectedLatency(space, table, DIGITS, 10).lowest(largest)
    steered = _search("darts", table, lowest * 1.05, latency_weight=5.0, arch_lr=0.01)
    plain = _search("darts", table, lowest * 1.05, latency_weight=0.0, arch_lr=0.01)
    assert steered.expected_latency[-1] < steered.expected_latency[0]
    assert steered.expected_latency[-1] < plain.expected_latency[-1]
    assert steered.latency_ms is not None and plain.latency_ms is not None
    assert steered.latency_ms <= plain.latency_ms


def test_latency_options_that_cannot_work_are_refused(table_file: Path) -> None:
    table = LatencyTable.load(table_file)
    with pytest.raises(OneShotError, match="needs both"):
        make_method("darts", _space(), latency_table=table)
    with pytest.raises(OneShotError, match="enas has no latency term"):
        make_method("enas", _space(), latency_table=table, latency_target=1.0)
    with pytest.raises(ConfigError, match="space 'mobilenet', not 'nb201'"):
        make_method("darts", NB201Space(), latency_table=table, latency_target=1.0)
    with pytest.raises(OneShotError, match="cannot reach"):
        _search("darts", table, 0.01)
    with pytest.raises(ConfigError, match="built for input"):
        make_method("spos", _space(), latency_table=table, latency_target=1.0).search(
            _mnist_like_task(), epochs=1
        )


def _mnist_like_task() -> Task:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 1, 12, 12)).astype(np.float32)
    return task_from_arrays("noise", x, np.arange(600) % 10)


def _space_args() -> list[str]:
    return [arg for k, v in SPACE.items() for arg in ("-s", f"{k}={json.dumps(v)}")]


def test_cli_spos_with_a_latency_target(table_file: Path) -> None:
    table = LatencyTable.load(table_file)
    target = _percentile_latency(table, 0.3)
    args = ["oneshot", "--method", "spos", "--space", "mobilenet", *_space_args(), "--epochs",
            "1", "-o", "population_size=4", "-o", "sample_size=2", "-o", "generations=2",
            "-o", "score_examples=200",
            "--latency-table", str(table_file), "--latency-target", str(target),
            "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["latency_ms_predicted"] <= target
    space = _space()
    arch = space.parse(payload["arch"])
    assert isinstance(arch, Arch)
    assert table.predict(space, arch) == pytest.approx(payload["latency_ms_predicted"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--latency-target", "1.0"], "go together"),
        (["--latency-table", "missing.json", "--latency-target", "1.0"], "no latency table"),
        (
            ["--method", "enas", "--latency-table", "TABLE", "--latency-target", "1.0"],
            "enas has no latency term",
        ),
        (["--latency-table", "TABLE", "--latency-target", "0.001"], "cannot reach"),
        (["--latency-table", "TABLE", "--latency-target", "-1"], "must be > 0"),
    ],
)
def test_cli_refuses_bad_latency_options(table_file: Path, extra: list[str], message: str) -> None:
    extra = [str(table_file) if arg == "TABLE" else arg for arg in extra]
    method = [] if "--method" in extra else ["--method", "darts"]
    args = ["oneshot", *method, "--space", "mobilenet", *_space_args(), "--epochs", "1", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
