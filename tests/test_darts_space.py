"""The NASNet/DARTS cell space: the published cells and their sizes, genotypes, canonical
form, its supernet, and one-shot search on it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.data import load_task
from nasforge.data.task import Task
from nasforge.errors import ArchError
from nasforge.measure.parameters import count_parameters
from nasforge.oneshot import make_method
from nasforge.space import make_space
from nasforge.space.choices.mixed import MixedModule
from nasforge.space.darts.genotype import PUBLISHED, parse_genotype
from nasforge.space.darts.names import CELL_TYPES, edge_label
from nasforge.space.darts.space import NAMED_OPTIONS, DartsSpace
from nasforge.training import TrainConfig, Trainer, TrainerHooks

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


def test_the_supernet_is_dartss_one_op_vector_per_edge_with_none() -> None:
    space = DartsSpace(channels=4, layers=3)  # 4 nodes: 14 edges a cell, as in DARTS
    supernet = space.supernet((1, 8, 8), 10)
    edges = [
        edge_label(cell, node, i)
        for cell in CELL_TYPES
        for node in range(4)
        for i in range(node + 2)
    ]
    assert supernet.mixed_labels == tuple(edges) and len(edges) == 28
    assert all(supernet.num_choices[label] == 8 for label in edges)
    assert space.edge_choices() == ("none", *space.ops)
    assert supernet.labels == tuple(d.label for d in space.decisions)  # archs: the slots
    cell = supernet.net.cells[1]  # a reduction cell
    for node in cell.edges:
        for edge in node:
            assert isinstance(edge, MixedModule) and edge.names == space.edge_choices()
            for name in ("max_pool_3x3", "avg_pool_3x3"):  # pool + non-affine BatchNorm
                pool = edge.candidates[name]
                assert isinstance(pool, nn.Sequential) and isinstance(pool[1], nn.BatchNorm2d)
                assert not pool[1].affine
    preprocessing = [*cell.preprocess0.modules(), *cell.preprocess1.modules()]
    norms = [m for m in preprocessing if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.affine for m in norms)
    child = space.build(space.parse("DARTS_V2"), (1, 8, 8), 10)
    assert all(m.affine for m in child.modules() if isinstance(m, nn.BatchNorm2d))


def _edge_weights(space: DartsSpace, strongest: dict[str, dict[int, dict[str, float]]]) -> Any:
    """Uniform weights on every edge, except the ops given per cell, node and input."""
    choices = space.edge_choices()
    weights: dict[str, list[float]] = {}
    for cell in CELL_TYPES:
        for node in range(space.nodes):
            for i in range(node + 2):
                given = strongest.get(f"{cell}{node}", {}).get(i, {})
                rest = (1.0 - sum(given.values())) / (len(choices) - len(given))
                weights[edge_label(cell, node, i)] = [given.get(op, rest) for op in choices]
    return weights


def test_derive_is_dartss_rule_on_hand_set_edge_weights() -> None:
    space = DartsSpace(channels=4, layers=3)
    weights = _edge_weights(
        space,
        {
            # node 2 (states 0-3): edge 0 is mostly none, so its strongest real op (0.02)
            # is weaker than edges 1 and 3, which keep their own ops
            "normal2": {
                0: {"none": 0.86, "sep_conv_3x3": 0.02},
                1: {"none": 0.1, "skip_connect": 0.4},
                3: {"none": 0.5, "dil_conv_5x5": 0.3},
            },
            "normal0": {0: {"sep_conv_5x5": 0.5}, 1: {"max_pool_3x3": 0.6}},
            "reduce3": {4: {"avg_pool_3x3": 0.3, "sep_conv_3x3": 0.29}, 2: {"none": 0.99}},
        },
    )
    arch = space.derive(weights)
    assert arch is not None
    genotype = space.to_genotype(arch)
    assert genotype.normal[4:6] == (("skip_connect", 1), ("dil_conv_5x5", 3))
    assert genotype.normal[0:2] == (("max_pool_3x3", 1), ("sep_conv_5x5", 0))
    # reduce node 3: edge 4's avg pool is strongest; the others tie (uniform), so the
    # earliest input, 0, comes second with the first op of the tie; edge 2 (none) is out
    assert genotype.reduce[6] == ("avg_pool_3x3", 4)
    assert genotype.reduce[7] == ("max_pool_3x3", 0)
    # the same rule as DARTS's Network.genotype on these weights
    assert genotype == _dartss_parse(space, weights)


def _dartss_parse(space: DartsSpace, weights: Any) -> Any:
    """quark0/darts cnn/model_search.py, Network.genotype._parse, on our weights."""
    primitives = space.edge_choices()
    none = primitives.index("none")
    cells = {}
    for cell in CELL_TYPES:
        gene = []
        for i in range(space.nodes):
            w = [weights[edge_label(cell, i, j)] for j in range(i + 2)]
            edges = sorted(
                range(i + 2),
                key=lambda x: -max(w[x][k] for k in range(len(w[x])) if k != none),
            )[:2]
            for j in edges:
                k_best = None
                for k in range(len(w[j])):
                    if k != none and (k_best is None or w[j][k] > w[j][k_best]):
                        k_best = k
                assert k_best is not None
                gene.append((primitives[k_best], j))
        cells[cell] = gene
    return parse_genotype(
        f"Genotype(normal={cells['normal']}, normal_concat=range(2, 6), "
        f"reduce={cells['reduce']}, reduce_concat=range(2, 6))"
    )


def test_edges_that_start_equal_learn_different_ops() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    # alpha starts exactly equal on every edge (alpha_init=0); the slot layout of before
    # gave a node's two slots identical gradients, so both kept edges took the same op
    method = make_method("darts", space, alpha_init=0.0)
    result = method.search(load_task("digits"), epochs=1, batch_size=64, seed=0, threads=1)
    alpha = result.alpha
    assert not np.array_equal(alpha["normal_node0_edge0"], alpha["normal_node0_edge1"])
    genotype = space.to_genotype(result.arch)
    pairs = [genotype.normal[k : k + 2] for k in (0, 2)] + [
        genotype.reduce[k : k + 2] for k in (0, 2)
    ]
    assert any(a[0] != b[0] for a, b in pairs), genotype  # two kept edges, two ops
    assert all(a[1] != b[1] for a, b in pairs)  # two different inputs per node


def test_diagnostics_record_the_per_edge_weights_and_the_archs_skip_share() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    method = make_method("darts", space)
    result = method.search(load_task("digits"), epochs=1, batch_size=64, seed=0, threads=1)
    diagnostics = result.diagnostics
    # every edge's vector over the 8 primitives (none included), as DARTS weights them
    assert set(diagnostics.choices) == set(result.alpha)
    assert diagnostics.choices["normal_node0_edge0"] == space.edge_choices()
    # after one epoch the weights are near uniform: entropy near log(8), not 0
    assert 0.9 * np.log(8) < diagnostics.mean_entropy[-1] <= np.log(8)
    genotype = space.to_genotype(result.arch)
    ops = [op for op, _ in (*genotype.normal, *genotype.reduce)]
    assert diagnostics.skip_share[-1] == ops.count("skip_connect") / len(ops)


def test_second_order_and_exclude_ops_search_the_per_edge_supernet() -> None:
    # both read a mask per weighted decision; the per-edge vectors (decisions only the
    # supernet asks) had none: darts2 failed with a KeyError, exclude_ops=none was refused
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    task = load_task("digits")
    task = dataclasses.replace(task, x_train=task.x_train[:256], y_train=task.y_train[:256])
    method = make_method("darts2", space, exclude_ops="none")
    result = method.search(task, epochs=1, batch_size=32, seed=0, threads=1)
    none = space.edge_choices().index("none")
    assert all((w[:, none] == 0).all() for w in result.diagnostics.weights.values())
    assert "none" not in space.format(result.arch)


def test_a_path_taking_one_input_twice_is_the_child() -> None:
    space = DartsSpace(**TINY)  # type: ignore[arg-type]
    torch.manual_seed(0)
    supernet = space.supernet((1, 8, 8), 10)
    # both slots of a node on input 0, other ops: the supernet's path is still the child
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
        assert torch.allclose(supernet(x), child(x), atol=1e-4)


def test_pc_darts_reduction_edges_bypass_through_a_max_pool() -> None:
    space = DartsSpace(channels=8, layers=3, nodes=2)
    supernet = space.supernet((1, 8, 8), 10, partial_channels=4)
    edge = supernet.net.cells[1].edges[0][0]  # a reducing edge of a reduction cell
    assert isinstance(edge, MixedModule) and edge.partial
    x = torch.randn(2, 16, 8, 8)
    supernet.use_path({label: 0 for label in supernet.mixed_labels})  # none on every edge
    out = edge(x)
    assert out.shape == (2, 16, 4, 4)
    # channels shuffled from [4 zeros (none on the first 16/4), max-pooled other 12]
    unshuffled = out.view(2, 4, 4, 4, 4).transpose(1, 2).reshape(2, 16, 4, 4)
    assert torch.equal(unshuffled[:, :4], torch.zeros(2, 4, 4, 4))
    assert torch.equal(unshuffled[:, 4:], F.max_pool2d(x[:, 4:], 2, 2))


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
