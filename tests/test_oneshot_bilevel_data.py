"""What each half of a one-shot search trains on (issue 32): with ``augment`` the
architecture batches are augmented as the weights' are (DARTS augments both halves)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from nasforge.data import Task, make_task
from nasforge.oneshot import make_method
from nasforge.oneshot.bilevel import BatchStream
from nasforge.space import make_space

SPACE = make_space("nb201", channels=8, cells_per_stage=1)


@pytest.fixture(scope="module")
def digits16() -> Task:
    """scikit-learn's digits upsampled to 16x16 (augmentation crops images of 16 pixels up)."""
    data = load_digits()
    x = np.kron(data.images.astype(np.float32) / 16, np.ones((2, 2), dtype=np.float32))[:, None]
    return make_task("digits16", x[:1400], data.target[:1400], x[1400:], data.target[1400:])


def crops_and_flips(x: torch.Tensor) -> list[torch.Tensor]:
    """Every crop of ``x`` zero-padded by 2 (1/8 of 16), and its mirror image."""
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    crops = [padded[:, r : r + 16, c : c + 16] for r in range(5) for c in range(5)]
    return crops + [c.flip(2) for c in crops]


def next_raw_and_given(stream: BatchStream) -> tuple[torch.Tensor, torch.Tensor]:
    """The stream's next batch as drawn and as it gives it (the same rows and order)."""
    state, pending = stream.generator.get_state(), list(stream._batches)
    raw = BatchStream(stream.x, stream.y, stream.batch_size, torch.Generator())
    raw.generator.set_state(state)
    raw._batches = pending
    return raw.next()[0], stream.next()[0]


@pytest.mark.parametrize("method_name", ["darts", "gdas"])
def test_augment_applies_to_the_architecture_batches_too(digits16: Task, method_name: str) -> None:
    method = make_method(method_name, SPACE, augment=True)
    result = method.search(digits16, epochs=1, batch_size=64, seed=0, threads=1)
    assert np.isfinite(result.diagnostics.arch_loss).all()  # the steps ran on them
    raw, given = next_raw_and_given(method.arch_batches_)
    assert not torch.equal(raw, given)
    changed = 0
    for original, augmented in zip(raw, given, strict=True):
        assert any(torch.equal(augmented, c) for c in crops_and_flips(original))
        changed += not torch.equal(augmented, original)
    assert changed > len(raw) // 2  # 49 of 50 crops and flips differ from the image


@pytest.mark.parametrize(("method_name", "augment"), [("darts", False), ("enas", True)])
def test_architecture_batches_as_they_are_without_augment_and_for_enas(
    digits16: Task, method_name: str, augment: bool
) -> None:
    """ENAS's controller rewards are measured on unaugmented images, as xautodl's ENAS."""
    method = make_method(method_name, SPACE, augment=augment)
    method.search(digits16, epochs=1, batch_size=64, seed=0, threads=1)
    assert method.arch_batches_.transform is None
    raw, given = next_raw_and_given(method.arch_batches_)
    assert torch.equal(raw, given)
