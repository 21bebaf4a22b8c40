"""The NAS-Bench-201 network: parameter counts against the benchmark table, forward/backward."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.space.nb201.net import NB201Cell, NB201Network
from nasforge.space.nb201.space import EDGES, NB201Space

ALL_NONE = ("none",) * 6
ALL_SKIP = ("skip_connect",) * 6
ALL_CONV3 = ("nor_conv_3x3",) * 6
MIXED = ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none", "nor_conv_3x3")


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def table_params(params_m: str) -> int:
    """The table lists parameters in millions with 6 decimals, i.e. exact counts."""
    return round(float(params_m) * 1e6)


@pytest.fixture(scope="module")
def nb201_rows(nb201_csv_path: Path) -> list[dict[str, str]]:
    with nb201_csv_path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space(channels=16, cells_per_stage=5)


# -- parameter counts match the benchmark ------------------------------------------------


def test_params_match_table_row_6111(nb201_rows: list[dict[str, str]], space: NB201Space) -> None:
    row = nb201_rows[6111]
    assert row["idx"] == "6111"
    net = space.build(space.parse(row["arch"]), input_shape=(3, 32, 32), num_classes=10)
    assert n_params(net) == table_params(row["params_m_cifar10"])


def test_params_match_table_on_random_rows(
    nb201_rows: list[dict[str, str]], space: NB201Space
) -> None:
    rng = np.random.default_rng(201)
    mismatches = []
    for i in rng.choice(len(nb201_rows), size=100, replace=False):
        row = nb201_rows[int(i)]
        net = space.build(space.parse(row["arch"]), input_shape=(3, 32, 32), num_classes=10)
        expected = table_params(row["params_m_cifar10"])
        if n_params(net) != expected:
            mismatches.append((row["idx"], row["arch"], n_params(net), expected))
    assert mismatches == []


def test_param_counts_depend_on_ops() -> None:
    assert n_params(NB201Network(ALL_CONV3)) == 1_531_546
    assert n_params(NB201Network(ALL_SKIP)) < n_params(NB201Network(ALL_CONV3))
    # none / skip / pool are parameter-free: all such cells cost the same
    assert n_params(NB201Network(ALL_SKIP)) == n_params(NB201Network(ALL_NONE))


# -- forward / backward --------------------------------------------------------------------


@pytest.mark.parametrize("ops", [ALL_NONE, ALL_SKIP, ALL_CONV3, MIXED], ids=lambda o: o[0])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 28, 28)], ids=str)
def test_forward_backward(ops: tuple[str, ...], shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    net = NB201Network(ops, channels=4, cells_per_stage=1, in_channels=shape[0], num_classes=7)
    out = net(torch.randn(2, *shape))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    net.eval()
    assert torch.isfinite(net(torch.randn(2, *shape))).all()


def test_channels_last_gives_same_output() -> None:
    torch.manual_seed(0)
    net = NB201Network(MIXED, channels=4, cells_per_stage=1).eval()
    x = torch.randn(2, 3, 16, 16)
    expected = net(x)
    net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stub gap
    out = net(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, expected)


# -- the cell wires its ops as the NB201 string says ---------------------------------------


def test_all_none_cell_outputs_zeros() -> None:
    x = torch.randn(2, 4, 5, 5)
    out = NB201Cell(ALL_NONE, 4)(x)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0


def test_single_skip_edge_0_to_3_is_identity() -> None:
    ops = tuple("skip_connect" if edge == (0, 3) else "none" for edge in EDGES)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(NB201Cell(ops, 4)(x), x)


@pytest.mark.parametrize("position", range(len(EDGES)), ids=lambda k: f"{EDGES[k]}")
def test_every_edge_op_is_used(position: int) -> None:
    """Swapping one parameter-free op for another (same weights) changes the output."""
    pooled = tuple("avg_pool_3x3" if k == position else "skip_connect" for k in range(6))
    nets = []
    for ops in (ALL_SKIP, pooled):
        torch.manual_seed(0)
        nets.append(NB201Network(ops, channels=4, cells_per_stage=1).eval())
    x = torch.randn(2, 3, 8, 8)
    assert not torch.allclose(nets[0](x), nets[1](x))
