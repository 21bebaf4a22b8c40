"""What each half of a one-shot search trains on (issue 32): with ``augment`` the
architecture batches are augmented as the weights' are (DARTS augments both halves); SPOS
and ENAS train their supernet on all but a small validation set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from nasforge.data import Task, make_task
from nasforge.oneshot import OneShotError, make_method, split_for_bilevel
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


def many_examples(n: int = 10_000) -> Task:
    """``n`` examples of 10 balanced classes (features only: the split does not train)."""
    x = np.random.default_rng(0).normal(size=(n + 100, 4)).astype(np.float32)
    y = np.arange(n + 100) % 10
    return make_task("many", x[:n], y[:n], x[n:], y[n:], valid_fraction=0.1)


def test_spos_and_enas_hold_out_a_tenth_the_bilevel_methods_half() -> None:
    task = many_examples()
    n = len(task.y_train)  # 9,000 after the task's own validation split
    for name, held in [("spos", n // 10), ("enas", n // 10), ("darts", n // 2)]:
        share = make_method(name, SPACE).arch_share_value
        split = split_for_bilevel(task, 64, 0, share)
        assert len(split.y_arch) == held, name
        assert len(split.weights_task.y_train) == n - held, name
        assert np.bincount(split.y_arch.numpy()).tolist() == [held // 10] * 10  # stratified
    assert make_method("spos", SPACE, arch_share=0.5).arch_share_value == 0.5


def test_a_small_validation_set_still_holds_two_batches() -> None:
    task = many_examples(1_000)  # 900 training examples: a tenth is 90
    split = split_for_bilevel(task, 64, 0, 0.1)
    assert 2 * 64 <= len(split.y_arch) <= 2 * 64 + 2 * 10  # rounded up per class
    assert len(split.y_arch) + len(split.weights_task.y_train) == 900


def test_a_spos_search_trains_its_supernet_on_all_but_the_validation_set(digits16: Task) -> None:
    method = make_method(
        "spos", SPACE, population_size=2, sample_size=2, generations=1, score_examples=50
    )
    result = method.search(digits16, epochs=1, batch_size=32, seed=0, threads=1)
    n, held = len(digits16.y_train), len(method.split_.y_arch)
    assert held == pytest.approx(n / 10, abs=10)
    assert result.report.steps == math.ceil((n - held) / 32)


@pytest.mark.parametrize("share", [0.0, 0.6, "half"])
def test_a_bad_arch_share_is_refused(share: object) -> None:
    with pytest.raises(OneShotError, match=r"arch_share must lie in \(0, 0.5\]"):
        make_method("enas", SPACE, arch_share=share)
    with pytest.raises(OneShotError, match=r"arch_share must lie in \(0, 0.5\]"):
        split_for_bilevel(many_examples(), 64, 0, 0.0)
