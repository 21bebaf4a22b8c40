"""Every registered search space builds trainable networks (timm-style conformance test).

A new space joins by registering in `SPACES` and adding a small config to `SMALL` below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from nasforge.space import SPACES, make_space

NUM_CLASSES = 3

SMALL: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "nb201": ({"channels": 4, "cells_per_stage": 1}, (1, 8, 8)),
    "mlp": ({"max_layers": 3, "widths": [8, 16]}, (20,)),
    "conv1d": ({"max_blocks": 3, "channels": [4, 8]}, (1, 40)),
    "darts": ({"channels": 4, "layers": 3, "nodes": 2}, (1, 8, 8)),
    "mobilenet": ({"width_mult": 0.25, "resolution": 32}, (1, 8, 8)),
    "textconv": ({"vocab_size": 30, "embed_dims": [8, 16], "widths": [0, 4, 8]}, (12,)),
    "transformer": ({"vocab_size": 30, "embed_dims": [8, 16], "head_dim": 4}, (12,)),
    "ngrams": ({"vocab_size": 30, "buckets": 64, "embed_dims": [8, 16], "hiddens": [0, 8]}, (12,)),
}
"""Space name -> (small constructor options, a fitting input shape without batch axis)."""


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, above all on a shared, busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


NETWORK_SPACES = sorted(
    name for name, cls in SPACES.items() if getattr(cls, "builds_networks", True)
)
"""The table space's archs are measured rows, not networks (tests/test_table_space.py)."""


def test_every_registered_space_has_a_small_config() -> None:
    assert sorted(SMALL) == NETWORK_SPACES


@pytest.mark.parametrize("name", NETWORK_SPACES)
def test_space_builds_trainable_networks(name: str) -> None:
    options, input_shape = SMALL[name]
    space = make_space(name, **options)
    space.check_input(input_shape)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    for _ in range(5):
        arch = space.sample(rng)
        model = space.build(arch, input_shape, NUM_CLASSES)
        output = model(torch.randn(4, *input_shape))
        assert output.shape == (4, NUM_CLASSES)
        assert torch.isfinite(output).all()
        output.sum().backward()
        # a parameter may get no gradient when its op feeds only into a "none" edge (nb201)
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)

        canonical = space.canonical(arch)
        assert space.canonical(canonical) == canonical
        assert space.parse(space.format(arch)) == arch
        assert space.parse(str(arch)) == arch
