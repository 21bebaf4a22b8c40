"""Zero-cost proxies: each against a direct computation, invariants, errors, batch scoring."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data.loaders import load_task
from nasforge.measure import count_flops, count_parameters
from nasforge.proxies import ProxyBatch, ProxyError, proxy_names, score_network
from nasforge.proxies.cache import ScoreCache
from nasforge.proxies.correlation import kendall, spearman
from nasforge.proxies.ensemble import normalized_ranks, rank_average
from nasforge.proxies.scoring import score_archs
from nasforge.space import NB201Space

ALL_PROXIES = [
    "fisher", "flops", "grad_norm", "grasp", "jacov", "nwot", "params", "snip", "synflow", "zen",
]  # fmt: skip


@pytest.fixture(scope="module")
def digits_batch() -> ProxyBatch:
    task = load_task("digits")
    return ProxyBatch.from_arrays(task.x_train, task.y_train, task.num_classes, size=16, seed=0)


@pytest.fixture(scope="module")
def tiny_space() -> NB201Space:
    return NB201Space(channels=4, cells_per_stage=1)


def tiny_net(space: NB201Space, text: str = "") -> nn.Module:
    arch = (
        space.parse(text)
        if text
        else space.parse(
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"
        )
    )
    torch.manual_seed(0)
    return space.build(arch, (1, 8, 8), 10)


def test_every_documented_proxy_is_registered() -> None:
    assert proxy_names() == ALL_PROXIES


@pytest.mark.parametrize("name", ALL_PROXIES)
def test_proxy_leaves_the_network_unchanged(
    name: str, tiny_space: NB201Space, digits_batch: ProxyBatch
) -> None:
    network = tiny_net(tiny_space)
    network.eval()
    for index, parameter in enumerate(network.parameters()):  # gradients from earlier work
        parameter.grad = torch.full_like(parameter, float(index))
    before = copy.deepcopy(network.state_dict())
    grads_before = [p.grad.clone() for p in network.parameters() if p.grad is not None]
    score_network(name, network, digits_batch)
    after = network.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert [p.grad for p in network.parameters() if p.grad is not None] != []
    assert all(
        torch.equal(a, b)
        for a, b in zip(grads_before, [p.grad for p in network.parameters()], strict=True)
    )
    assert not network.training
    assert all(p.dtype == torch.float32 for p in network.parameters())


@pytest.mark.parametrize("name", ALL_PROXIES)
def test_proxy_is_deterministic_for_a_seed(
    name: str, tiny_space: NB201Space, digits_batch: ProxyBatch
) -> None:
    network = tiny_net(tiny_space)
    first = score_network(name, network, digits_batch, seed=3)
    assert score_network(name, network, digits_batch, seed=3) == first
    assert math.isfinite(first)


def test_synflow_of_a_linear_chain_is_twice_its_path_sum() -> None:
    # f(x) = W2 W1 x with |W|: each layer's sum of theta * dR/dtheta equals R (Euler), so
    # synflow = 2 R with R = 1' |W2| |W1| 1.
    torch.manual_seed(1)
    network = nn.Sequential(nn.Flatten(), nn.Linear(6, 5, bias=False), nn.Linear(5, 3, bias=False))
    first, second = network[1].weight.detach().abs(), network[2].weight.detach().abs()
    path_sum = float(
        torch.ones(3).double() @ second.double() @ first.double() @ torch.ones(6).double()
    )
    score = score_network("synflow", network, ProxyBatch((6,), 3))
    assert score == pytest.approx(math.log(2 * path_sum), rel=1e-12)


def test_jacov_matches_a_per_example_jacobian() -> None:
    torch.manual_seed(2)
    network = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    inputs = torch.randn(6, 5)
    batch = ProxyBatch((5,), 3, inputs, torch.zeros(6, dtype=torch.int64), size=6)
    rows = []
    for example in inputs:
        x = example.clone().requires_grad_(True)
        network(x[None]).sum().backward()
        assert x.grad is not None
        rows.append(x.grad.double().numpy())
    eigenvalues = np.linalg.eigvals(np.corrcoef(np.array(rows))).real
    expected = -np.sum(np.log(eigenvalues + 1e-5) + 1.0 / (eigenvalues + 1e-5))
    assert score_network("jacov", network, batch) == pytest.approx(expected, rel=1e-6)


def test_nwot_matches_the_hamming_kernel() -> None:
    torch.manual_seed(3)
    network = nn.Sequential(nn.Linear(4, 9), nn.ReLU(), nn.Linear(9, 2))
    inputs = torch.randn(5, 4)
    batch = ProxyBatch((4,), 2, inputs, torch.zeros(5, dtype=torch.int64), size=5)
    codes = (network[0](inputs) > 0).numpy()
    kernel = np.array([[np.sum(a == b) for b in codes] for a in codes], dtype=np.float64)
    assert score_network("nwot", network, batch) == pytest.approx(np.linalg.slogdet(kernel)[1])


def test_snip_and_grad_norm_match_the_loss_gradient(digits_batch: ProxyBatch) -> None:
    torch.manual_seed(4)
    network = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    reference = copy.deepcopy(network)
    assert digits_batch.inputs is not None and digits_batch.targets is not None
    loss = nn.functional.cross_entropy(reference(digits_batch.inputs), digits_batch.targets)
    loss.backward()
    layers = [reference[1], reference[3]]
    snip = sum(float((layer.weight * layer.weight.grad).abs().sum().detach()) for layer in layers)
    norm = sum(float(layer.weight.grad.norm().detach()) for layer in layers)
    assert score_network("snip", network, digits_batch) == pytest.approx(snip, rel=1e-5)
    assert score_network("grad_norm", network, digits_batch) == pytest.approx(norm, rel=1e-5)


def test_fisher_matches_channel_saliencies_weighted_by_fan_in(digits_batch: ProxyBatch) -> None:
    torch.manual_seed(5)
    network = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    reference = copy.deepcopy(network)
    assert digits_batch.inputs is not None and digits_batch.targets is not None
    hidden = reference[1](reference[0](digits_batch.inputs))
    hidden.retain_grad()
    logits = reference[3](reference[2](hidden))
    logits.retain_grad()
    nn.functional.cross_entropy(logits, digits_batch.targets).backward()
    expected = 0.0
    for activation, fan_in in ((hidden, 64), (logits, 12)):
        assert activation.grad is not None
        saliency = 0.5 * (activation.detach() * activation.grad).pow(2).mean(0)
        expected += fan_in * float(saliency.sum())
    assert score_network("fisher", network, digits_batch) == pytest.approx(expected, rel=1e-5)


def test_params_and_flops_are_the_cost_counts(tiny_space: NB201Space) -> None:
    network = tiny_net(tiny_space)
    batch = ProxyBatch((1, 8, 8), 10)
    assert score_network("params", network, batch) == count_parameters(network)
    assert score_network("flops", network, batch) == count_flops(network, (1, 8, 8))


def test_synflow_of_a_cell_without_a_path_is_minus_infinity(tiny_space: NB201Space) -> None:
    network = tiny_net(tiny_space, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert score_network("synflow", network, ProxyBatch((1, 8, 8), 10)) == -math.inf


def test_unknown_proxy_lists_the_known_ones(tiny_space: NB201Space) -> None:
    with pytest.raises(ProxyError, match=r"unknown proxy 'synflw'; choose from fisher, flops"):
        score_network("synflw", tiny_net(tiny_space), ProxyBatch((1, 8, 8), 10))


def test_a_data_proxy_without_data_is_an_error(tiny_space: NB201Space) -> None:
    with pytest.raises(ProxyError, match=r"proxy jacov needs a mini-batch of data"):
        score_network("jacov", tiny_net(tiny_space), ProxyBatch((1, 8, 8), 10))


def test_a_network_without_task_logits_is_an_error(
    tiny_space: NB201Space, digits_batch: ProxyBatch
) -> None:
    five_classes = tiny_space.build(tiny_space.sample(np.random.default_rng(0)), (1, 8, 8), 5)
    with pytest.raises(ProxyError, match=r"not logits of the task's 10 classes \(2, 10\)"):
        score_network("snip", five_classes, digits_batch)
    with pytest.raises(ProxyError, match=r"cannot take inputs of shape \(1, 8, 8\)"):
        score_network("synflow", nn.Linear(3, 10), digits_batch)


def test_score_archs_shares_isomorphic_cells_and_reuses_the_cache(
    tiny_space: NB201Space, digits_batch: ProxyBatch, tmp_path: object
) -> None:
    archs = [tiny_space.sample(np.random.default_rng(i)) for i in range(6)]
    # the same function as archs[0] written differently: a dead edge into node 1 changes op
    dead = tiny_space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    dead_too = tiny_space.parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    archs += [dead, dead_too]
    cache = ScoreCache("scores.csv")
    first = score_archs(tiny_space, archs, ["synflow", "nwot"], digits_batch, cache=cache)
    assert first.scores["nwot"][-1] == first.scores["nwot"][-2]
    assert first.computed == len({tiny_space.format(tiny_space.canonical(a)) for a in archs})
    again = score_archs(
        tiny_space, archs, ["synflow", "nwot"], digits_batch, cache=ScoreCache("scores.csv")
    )
    assert again.computed == 0
    np.testing.assert_array_equal(again.scores["nwot"], first.scores["nwot"])
    alone = score_archs(tiny_space, archs[:1], ["nwot"], digits_batch)
    assert alone.scores["nwot"][0] == first.scores["nwot"][0]  # order and company do not matter


def test_cache_ignores_a_partial_last_line(tmp_path: object) -> None:
    cache = ScoreCache("c.csv")
    cache.add([("a", "synflow", "ctx", 1.5, 0.1), ("b", "synflow", "ctx", -math.inf, 0.2)])
    with open("c.csv", "a") as handle:
        handle.write("c,synflow,ct")
    reread = ScoreCache("c.csv")
    assert len(reread) == 2
    assert reread.get("b", "synflow", "ctx") == (-math.inf, 0.2)


def test_cache_reads_and_appends_gzip(tmp_path: object) -> None:
    ScoreCache("c.csv.gz").add([("a", "nwot", "ctx", 2.0, 0.1)])
    ScoreCache("c.csv.gz").add([("b", "nwot", "ctx", 3.0, 0.1)])
    reread = ScoreCache("c.csv.gz")
    assert (reread.get("a", "nwot", "ctx"), reread.get("b", "nwot", "ctx")) == (
        (2.0, 0.1),
        (3.0, 0.1),
    )


def test_cache_rejects_a_foreign_file(tmp_path: object) -> None:
    with open("other.csv", "w") as handle:
        handle.write("x,y\n1,2\n")
    with pytest.raises(ProxyError, match="is not a proxy cache"):
        ScoreCache("other.csv")


@pytest.mark.slow
def test_score_archs_gives_the_same_scores_with_two_workers(
    tiny_space: NB201Space, digits_batch: ProxyBatch
) -> None:
    archs = [tiny_space.sample(np.random.default_rng(i)) for i in range(12)]
    here = score_archs(tiny_space, archs, ["synflow", "snip"], digits_batch, chunk_size=3)
    spread = score_archs(
        tiny_space, archs, ["synflow", "snip"], digits_batch, workers=2, chunk_size=3
    )
    for name in ("synflow", "snip"):
        np.testing.assert_array_equal(here.scores[name], spread.scores[name])


def test_rank_correlations_and_ensemble() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)
    assert spearman([-math.inf, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    assert spearman([float("nan"), 1, 2, 3], [5, 1, 2, 3]) == pytest.approx(1.0)
    np.testing.assert_allclose(normalized_ranks([3.0, float("nan"), 1.0]), [1.0, 0.0, 0.5])
    combined = rank_average({"a": [1, 2, 3], "b": [30, 10, 20]})
    np.testing.assert_allclose(combined, [0.5, 0.25, 0.75])
