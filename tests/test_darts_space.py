"""The NASNet/DARTS cell space: the published cells and their sizes, genotypes, canonical
form, its supernet, and one-shot search on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.data.task import Task
from nasforge.errors import ArchError
from nasforge.measure.parameters import count_parameters
from nasforge.space import make_space
from nasforge.space.darts import NAMED_OPTIONS, DartsSpace
from nasforge.space.darts_genotype import PUBLISHED, parse_genotype
from nasforge.training.trainer import TrainConfig, Trainer, TrainerHooks

runner = CliRunner()

# Counted with the DARTS authors' NetworkCIFAR (github.com/quark0/darts, cnn/model.py) at
# C=36, 20 layers, 10 classes, no auxiliary head (issue 17; rerun here, docs/benchmarks.md).
REFERENCE_PARAMS = {
    "DARTS_V2": 3_349_342,
    "DARTS_V1": 3_169_414,
    "NASNet": 3_830_950,
    "AmoebaNet": 3_145_078,
}
TINY = {"channels": 4, "layers": 3, "nodes": 2}


def _space(name: str, **options: object) -> DartsSpace:
    return DartsSpace(**{**NAMED_OPTIONS.get(name, {}), **options})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_published_cells_have_the_reference_parameter_counts(name: str) -> None:
    space = _space(name, channels=36, layers=20)
    assert count_parameters(space.build(space.parse(name))) == REFERENCE_PARAMS[name]


def test_pc_darts_is_within_3_percent_of_its_paper() -> None:
    space = _space("PC_DARTS", channels=36, layers=20)
    params = count_parameters(space.build(space.parse("PC_DARTS")))
    assert abs(params - 3.6e6) / 3.6e6 <= 0.03


def test_the_auxiliary_head_is_left_out_of_describes_params() -> None:
    result = runner.invoke(
        app,
        [
            "describe",
            "DARTS_V2",
            "--space",
            "darts",
            "-s",
            "channels=36",
            "-s",
            "layers=20",
            "-s",
            "auxiliary=true",
            "--no-latency",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["params"] == REFERENCE_PARAMS["DARTS_V2"]
    assert payload["auxiliary_params"] > 0
    assert "normal cell" in payload["picture"] and "reduce cell" in payload["picture"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_genotype_text_round_trips(name: str) -> None:
    space = _space(name)
    arch = space.parse(name)
    text = space.format(arch)
    assert parse_genotype(text) == PUBLISHED[name]
    assert space.parse(text) == arch
    assert space.parse(str(arch)) == arch  # the Arch text form too


def test_range_concat_and_the_darts_repr_are_read() -> None:
    text = str(PUBLISHED["DARTS_V2"]).replace("[2, 3, 4, 5]", "range(2, 6)")
    assert DartsSpace().parse(text) == DartsSpace().parse("DARTS_V2")


def test_swapped_slots_are_one_canonical_cell() -> None:
    space = DartsSpace()
    genotype = PUBLISHED["DARTS_V2"]
    normal = list(genotype.normal)
    normal[0], normal[1] = normal[1], normal[0]
    swapped = space.from_genotype(
        type(genotype)(
            tuple(normal), genotype.normal_concat, genotype.reduce, genotype.reduce_concat
        )
    )
    assert swapped != space.parse("DARTS_V2")
    assert space.canonical(swapped) == space.canonical(space.parse("DARTS_V2"))


def test_random_cells_build_and_run() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    for _ in range(3):
        arch = space.sample(rng)
        out = space.build(arch, (1, 8, 8), 10).eval()(torch.zeros(2, 1, 8, 8))
        assert out.shape == (2, 10)


def test_one_hot_supernet_equals_the_child_with_inherited_weights() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    torch.manual_seed(0)
    supernet = space.supernet((1, 8, 8), 10)
    arch = space.sample(np.random.default_rng(1))
    supernet.use_path(arch)
    supernet.net.eval()
    child = supernet.child(arch).eval()
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(supernet.net(x), child(x), atol=1e-5)


def test_derive_keeps_each_nodes_two_strongest_edges() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    ops = space.ops
    weights: dict[str, list[float]] = {}
    for decision in space.decisions:  # every slot alike: what a symmetric supernet learns
        n = len(decision.choices)
        weights[decision.label] = [1.0 / n] * n
    weights["normal_node1_in0"] = weights["normal_node1_in1"] = [0.1, 0.5, 0.4]
    sep5 = [0.9 if op == "sep_conv_5x5" else 0.1 / (len(ops) - 1) for op in ops]
    weights["normal_node1_op0"] = weights["normal_node1_op1"] = sep5
    arch = space.derive(weights)
    assert arch is not None
    # two different inputs (1, then 2), both with the op the slots prefer
    assert (arch["normal_node1_in0"], arch["normal_node1_in1"]) == (1, 2)
    assert arch["normal_node1_op0"] == arch["normal_node1_op1"] == "sep_conv_5x5"
    # slots that differ give each edge its own op: W[i, o] sums both slots' products
    weights["normal_node1_in1"] = [0.0, 0.05, 0.95]
    weights["normal_node1_op1"] = [0.9 if op == "max_pool_3x3" else 0.1 / 6 for op in ops]
    arch = space.derive(weights)
    assert arch is not None
    assert (arch["normal_node1_in0"], arch["normal_node1_op0"]) == (2, "max_pool_3x3")
    assert (arch["normal_node1_in1"], arch["normal_node1_op1"]) == (1, "sep_conv_5x5")
    assert arch["normal_node0_in0"] != arch["normal_node0_in1"]


def test_a_nodes_two_slots_share_one_op_per_edge_in_the_supernet() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    torch.manual_seed(0)
    supernet = space.supernet((1, 8, 8), 10)
    cell = supernet.net.cells[0]
    first, second = cell.slot_ops[0], cell.slot_ops[1]
    for i in range(2):  # node 0's two slots, on each of its two inputs
        for name in first[i].names:
            assert second[i].candidates[name] is first[i].candidates[name]
    calls = []
    conv = next(
        m for m in first[0].candidates["sep_conv_3x3"].modules() if isinstance(m, nn.Conv2d)
    )
    conv.register_forward_hook(lambda *_: calls.append(1))
    supernet.use_weights({label: torch.ones(n) / n for label, n in supernet.num_choices.items()})
    supernet(torch.randn(2, 1, 8, 8))
    assert len(calls) == 1  # computed once for both slots
    # both slots of a node on input 0, other ops: the one-hot supernet is still the child
    arch = space.parse(
        "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 0), ('skip_connect', 1), "
        "('sep_conv_3x3', 0)], normal_concat=[2, 3], reduce=[('max_pool_3x3', 0), "
        "('sep_conv_5x5', 0), ('sep_conv_3x3', 2), ('sep_conv_3x3', 2)], reduce_concat=[2, 3])"
    )
    supernet.use_path(arch)
    supernet.net.eval()
    child = supernet.child(arch).eval()
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(supernet(x), child(x), atol=1e-5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (str(PUBLISHED["DARTS_V2"]).replace("dil_conv_3x3", "conv_9x9"), "op 'conv_9x9'"),
        (
            str(PUBLISHED["DARTS_V2"]).replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
            "takes input 5",
        ),
        (str(PUBLISHED["ENAS"]), "has 10 entries; this darts space has 4 nodes"),
        ("NASNet -s nodes=4", "-s nodes=5 -s ops=nasnet -s concat=loose"),
        ("Genotype(normal=[", "malformed genotype"),
        ("Genotype(normal=[], reduce=[])", "missing normal_concat"),
        (
            str(PUBLISHED["DARTS_V2"]).replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[5]"),
            "normal_concat [5]",
        ),
        ("DARTS_V3", "DARTS_V3"),
    ],
)
def test_bad_cells_are_one_line_and_exit_2(text: str, message: str) -> None:
    arch, *options = text.split(" -s ")  # an option given explicitly is kept
    options = [arg for option in options for arg in ("-s", option)]
    result = runner.invoke(app, ["describe", arch, "--space", "darts", *options, "--no-latency"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_enas_in_a_five_node_space() -> None:
    assert _space("ENAS").parse("ENAS") == _space("ENAS").from_genotype(PUBLISHED["ENAS"])
    with pytest.raises(ArchError, match="-s nodes=5"):
        DartsSpace().parse("ENAS")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["darts", "pc-darts", "gdas", "beta-darts"])
def test_one_shot_on_darts_returns_a_genotype_that_trains_and_predicts(
    method: str, tmp_path: Path
) -> None:
    options = ["-s", "channels=4", "-s", "layers=3", "-s", "nodes=2"]
    args = [
        "oneshot",
        "--method",
        method,
        "--space",
        "darts",
        *options,
        "--task",
        "digits",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--seed",
        "3",
        "--json",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    found = json.loads(first.stdout)["arch"]
    space = make_space("darts", **TINY)
    arch = space.parse(found)
    assert isinstance(arch, Arch) and found.startswith("Genotype(normal=[")
    if method != "darts":
        return
    again = runner.invoke(app, args)
    assert json.loads(again.stdout)["arch"] == found  # same seed, same genotype
    trained = runner.invoke(
        app,
        [
            "train",
            found,
            "--space",
            "darts",
            *options,
            "--task",
            "digits",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.float32))
    predicted = runner.invoke(
        app, ["predict", str(tmp_path / "m"), "--data", str(tmp_path / "x.npy"), "--json"]
    )
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.stdout)["count"] == 4


def test_a_published_name_brings_the_options_it_needs() -> None:
    result = runner.invoke(
        app, ["describe", "NASNet", "--space", "darts", "--json", "--no-latency"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["params"] > 0


def _random_task(count: int = 16) -> Task:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=count).astype(np.int64)
    return Task("random", x, y, x, y, x, y, 10, np.zeros(3, np.float32), np.ones(3, np.float32))


def _tiny_darts(**options: Any) -> torch.nn.Module:
    space = DartsSpace(channels=4, layers=3, **options)
    return space.build(space.parse("DARTS_V2"), (3, 32, 32), 10)


@pytest.mark.parametrize("weight", [0.0, 0.4])
def test_the_trainer_adds_the_auxiliary_loss(weight: float) -> None:
    model = _tiny_darts(auxiliary=True)
    head = model.auxiliary_head
    assert head is not None
    before = [p.detach().clone() for p in head.parameters()]
    config = TrainConfig(epochs=1, batch_size=16, auxiliary_weight=weight, threads=1)
    Trainer(config).fit(model, _random_task())
    moved = any(not torch.equal(a, p) for a, p in zip(before, head.parameters(), strict=True))
    assert moved == (weight > 0)  # the head learns only through its own loss


def test_the_drop_path_rate_grows_over_the_epochs() -> None:
    model = _tiny_darts(drop_path_prob=0.3)
    seen: list[float] = []

    class Record(TrainerHooks):
        def on_epoch_start(self, epoch: int, model: torch.nn.Module) -> None:
            seen.append(float(model.cells[0].drop_path_prob))

    Trainer(TrainConfig(epochs=3, batch_size=16, threads=1), hooks=[Record()]).fit(
        model, _random_task()
    )
    assert seen == pytest.approx([0.0, 0.1, 0.2])  # DARTS: drop_path_prob * epoch / epochs
