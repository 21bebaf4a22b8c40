"""One-shot searches on digits: results, determinism, memory estimates and bad input."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data.loaders import load_task
from nasforge.data.task import Task
from nasforge.oneshot import (
    DARTS,
    GDAS,
    METHODS,
    BetaDARTS,
    OneShotError,
    OneShotMethod,
    split_for_bilevel,
)
from nasforge.oneshot.bilevel import BatchStream
from nasforge.space import MLPSpace, NB201Space
from nasforge.space.nb201.net import NB201Network
from nasforge.training import TrainConfig, Trainer, TrainerHooks


def stack(vectors: Mapping[str, np.ndarray], axis: int = 0) -> np.ndarray:
    """One vector (or one array of per-point vectors) per decision, stacked on ``axis``."""
    return np.stack(list(vectors.values()), axis=axis)


SPACE = NB201Space(channels=4, cells_per_stage=1)

MAKERS: dict[str, Callable[[], OneShotMethod]] = {
    "darts": lambda: DARTS(SPACE),
    "darts-2nd": lambda: DARTS(SPACE, order=2),
    "gdas": lambda: GDAS(SPACE),
    "beta-darts": lambda: BetaDARTS(SPACE),
}


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_task("digits")


@pytest.fixture(scope="module")
def small(digits: Task) -> Task:
    """256 training examples: 4 weight steps of 32 per epoch."""
    return dataclasses.replace(digits, x_train=digits.x_train[:256], y_train=digits.y_train[:256])


def test_methods_are_registered_by_name() -> None:
    assert {"darts", "gdas", "beta-darts"} <= set(METHODS)
    assert METHODS["beta-darts"] is BetaDARTS


# -- what a search returns ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["darts", "gdas", "beta-darts"])
def test_search_returns_an_arch_of_the_space_and_diagnostics_per_epoch(
    name: str, digits: Task
) -> None:
    result = MAKERS[name]().search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    assert SPACE.validate(result.arch) == result.arch
    d = result.diagnostics
    assert d.epochs == 2 and d.labels == tuple(x.label for x in SPACE.decisions)
    assert stack(d.weights, axis=1).shape == (2, 6, 5)
    np.testing.assert_allclose(stack(d.weights, axis=1).sum(axis=-1), 1.0)
    assert d.archs[-1] == result.arch
    assert d.skip_share.shape == (2,)
    assert all(share * 6 == round(share * 6) and 0 <= share <= 1 for share in d.skip_share)
    assert d.entropy.shape == (2, 6) and d.mean_entropy.shape == (2,)
    assert (d.entropy > 0).all() and (d.entropy <= math.log(5) + 1e-9).all()
    assert d.arch_loss.shape == (2,) and np.isfinite(d.arch_loss).all()
    assert stack(result.alpha).shape == (6, 5)
    assert result.report.epochs_run == 2 and result.report.curve[-1].valid_accuracy > 0.1
    assert set(result.supernet_state) == set(result.supernet.state_dict())
    assert d.to_dict()["archs"] == [str(a) for a in d.archs]

    child = result.child()  # inherited weights; the supernet is left on the arch's path
    assert isinstance(child, NB201Network)
    x = torch.tensor(digits.x_test[:16])
    batch_statistics = name != "gdas"  # DARTS's BatchNorm keeps no running statistics
    result.supernet.train(batch_statistics)
    child.train(batch_statistics)
    with torch.no_grad():
        assert torch.equal(result.supernet(x), child(x))


def test_architecture_weights_move_and_beta_decay_keeps_them_smaller(digits: Task) -> None:
    darts = DARTS(SPACE).search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    beta_method = BetaDARTS(SPACE, lambda_max=200.0, lambda_epochs=2)
    beta = beta_method.search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    assert beta_method.lambda_ == 100.0  # lambda_max * epoch / lambda_epochs, last epoch
    initial = 1e-3 * torch.randn((6, 5), generator=torch.Generator().manual_seed(0)).numpy()
    assert np.abs(stack(darts.alpha) - initial).max() > 10 * 3e-4  # over 10 Adam steps of 3e-4
    lse = lambda a: np.log(np.exp(a).sum(axis=-1)).mean()  # noqa: E731
    assert lse(stack(beta.alpha)) < lse(stack(darts.alpha))


def test_warmup_epochs_train_only_the_weights(small: Task) -> None:
    initial = 1e-3 * torch.randn((6, 5), generator=torch.Generator().manual_seed(0)).numpy()
    frozen = GDAS(SPACE, warmup_epochs=2).search(small, epochs=2, batch_size=32, seed=0, threads=1)
    np.testing.assert_allclose(stack(frozen.alpha), initial, rtol=0, atol=1e-9)
    assert np.isnan(frozen.diagnostics.arch_loss).all()
    half = DARTS(SPACE, warmup_epochs=1).search(small, epochs=2, batch_size=32, seed=0, threads=1)
    assert np.abs(stack(half.alpha) - initial).max() > 3 * 3e-4  # 4 Adam steps of 3e-4 in epoch 1
    assert np.isnan(half.diagnostics.arch_loss[0]) and np.isfinite(half.diagnostics.arch_loss[1])


@pytest.mark.parametrize("name", ["darts", "gdas"])
def test_excluded_ops_get_no_weight_and_are_never_chosen(name: str, small: Task) -> None:
    method = METHODS[name](SPACE, exclude_ops="none")
    result = method.search(small, epochs=2, batch_size=32, seed=0, threads=1)
    assert method.exclude_ops == ("none",)
    assert (stack(result.diagnostics.weights, axis=1)[:, :, 0] == 0).all()
    assert (stack(result.diagnostics.weights, axis=1)[:, :, 1:] > 0).all()
    assert all("none" not in arch.values() for arch in result.diagnostics.archs)


def test_path_sampling_methods_refuse_excluded_ops() -> None:
    for name in ("enas", "spos"):
        with pytest.raises(OneShotError, match="exclude_ops applies to darts"):
            METHODS[name](SPACE, exclude_ops="none")


def test_partial_channels_search_runs(small: Task) -> None:
    result = DARTS(SPACE, partial_channels=2).search(
        small, epochs=1, batch_size=32, seed=0, threads=1
    )
    assert SPACE.validate(result.arch) == result.arch
    with pytest.raises(OneShotError, match="partial_channels=2"):
        result.child()


# -- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MAKERS))
def test_same_seed_gives_the_same_architecture(name: str, small: Task) -> None:
    runs = [
        MAKERS[name]().search(small, epochs=1, batch_size=32, seed=seed, threads=1)
        for seed in (3, 3, 4)
    ]
    assert runs[0].arch == runs[1].arch
    np.testing.assert_array_equal(stack(runs[0].alpha), stack(runs[1].alpha))
    assert not np.array_equal(stack(runs[0].alpha), stack(runs[2].alpha))
    for first, second in zip(
        runs[0].supernet_state.values(), runs[1].supernet_state.values(), strict=True
    ):
        assert torch.equal(first, second)


def test_search_leaves_the_global_random_state_alone(small: Task) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    GDAS(SPACE).search(small, epochs=1, batch_size=32, seed=0, threads=1)
    assert torch.equal(torch.rand(3), expected)


# -- the bilevel split ------------------------------------------------------------------------


def test_bilevel_split_is_two_disjoint_stratified_halves(digits: Task) -> None:
    split = split_for_bilevel(digits, 64, seed=0)
    n_weights, n_arch = len(split.weights_task.y_train), len(split.y_arch)
    assert n_weights + n_arch == len(digits.y_train)
    assert abs(n_weights - n_arch) <= 10
    rows = {r.tobytes() for r in split.weights_task.x_train}
    assert not any(r.numpy().tobytes() in rows for r in split.x_arch)
    assert set(split.y_arch.tolist()) == set(range(10))
    assert split.weights_task.x_valid is digits.x_valid
    again = split_for_bilevel(digits, 64, seed=0)
    assert torch.equal(again.y_arch, split.y_arch)
    assert not torch.equal(split_for_bilevel(digits, 64, seed=1).y_arch, split.y_arch)


def test_batch_stream_cycles_through_full_shuffled_batches() -> None:
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    stream = BatchStream(x, y, 4, torch.Generator().manual_seed(0))
    first_pass = [stream.next()[1] for _ in range(2)]
    assert all(len(b) == 4 for b in first_pass)
    assert len(set(torch.cat(first_pass).tolist())) == 8
    assert len(stream.next()[1]) == 4  # a new pass


class _BatchRecorder(TrainerHooks):
    def __init__(self) -> None:
        self.seen: list[int] = []

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        self.seen.append(len(y))


def test_trainer_shows_hooks_each_batch_before_the_forward_pass(small: Task) -> None:
    recorder = _BatchRecorder()
    trainer = Trainer(TrainConfig(epochs=1, batch_size=100, threads=1), hooks=[recorder])
    assert trainer.optimizer is None
    trainer.fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), small)
    assert recorder.seen == [100, 100, 56]
    assert isinstance(trainer.optimizer, torch.optim.SGD)


# -- memory -----------------------------------------------------------------------------------


def test_memory_estimate_is_measured_and_linear_in_the_batch(digits: Task) -> None:
    darts, gdas = DARTS(SPACE), GDAS(SPACE)
    darts_estimate = darts.estimate_memory(darts.build_supernet(digits, 0), digits, 64)
    gdas_estimate = gdas.estimate_memory(gdas.build_supernet(digits, 0), digits, 64)
    per_example = darts_estimate.activation_bytes_per_example
    assert per_example > 0
    tensors = darts_estimate.tensor_bytes_at
    assert tensors(128) - tensors(64) == pytest.approx(64 * per_example, abs=1)
    assert darts_estimate.total_bytes == darts_estimate.at(64) > darts_estimate.tensor_bytes
    # one sampled path keeps far fewer activations than all ops mixed
    assert gdas_estimate.activation_bytes_per_example < 0.75 * per_example
    second = DARTS(SPACE, order=2)
    assert second.estimate_memory(second.build_supernet(digits, 0), digits, 64).state_bytes == (
        7 * darts_estimate.state_bytes // 3
    )
    assert "at batch size 64" in str(darts_estimate)


def test_memory_limit_too_small_names_a_batch_size_that_fits(digits: Task) -> None:
    method = DARTS(SPACE)
    estimate = method.estimate_memory(method.build_supernet(digits, 0), digits, 64)
    limit = estimate.at(28)
    with pytest.raises(OneShotError) as error:
        method.search(digits, epochs=1, batch_size=64, memory_limit=limit)
    message = str(error.value)
    assert "\n" not in message and "darts needs about" in message
    match = re.search(r"batch_size=(\d+) fits", message)
    assert match is not None
    fits = int(match.group(1))
    assert fits == 28 and estimate.at(fits + 1) > limit
    # 1/4 of the channels through the ops fits at batch 64 too, 1/2 does not
    assert "partial_channels=4 fits at batch_size=64" in message


def test_memory_limit_below_any_batch_says_so(digits: Task) -> None:
    with pytest.raises(OneShotError, match="use a smaller space or more memory"):
        GDAS(SPACE).search(digits, epochs=1, batch_size=64, memory_limit=1000)


def test_validation_passes_run_at_the_training_batch_size(small: Task) -> None:
    """A mixed validation pass at the trainer's default batch (1024) held more than the step
    the memory check estimates; at the training batch it holds less."""
    seen: list[tuple[bool, int]] = []

    class Record(TrainerHooks):
        def on_fit_start(self, model: nn.Module, task: Task) -> None:
            model.register_forward_pre_hook(
                lambda module, inputs: seen.append((module.training, len(inputs[0])))
            )

    DARTS(SPACE).search(small, epochs=1, batch_size=32, hooks=[Record()])
    validation = [size for training, size in seen if not training]
    assert len(small.y_valid) > 32 and validation
    assert max(validation) == 32


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [DARTS, GDAS, BetaDARTS])
def test_space_without_op_choices_is_refused(method: type[OneShotMethod], digits: Task) -> None:
    with pytest.raises(OneShotError, match="space 'mlp' has no op choices") as error:
        method(MLPSpace()).search(digits, epochs=1)
    assert "\n" not in str(error.value)


def test_data_too_small_for_two_halves_names_a_batch_size(digits: Task) -> None:
    tiny = dataclasses.replace(digits, x_train=digits.x_train[:100], y_train=digits.y_train[:100])
    with pytest.raises(OneShotError, match=r"100 training examples.*batch_size <= 25") as error:
        DARTS(SPACE).search(tiny, epochs=1, batch_size=64)
    assert "\n" not in str(error.value)
    few = dataclasses.replace(digits, x_train=digits.x_train[:3], y_train=digits.y_train[:3])
    with pytest.raises(OneShotError, match="use more training data"):
        split_for_bilevel(few, 1, seed=0)


def test_bad_method_options_are_one_line_errors() -> None:
    with pytest.raises(OneShotError, match="order must be 1 or 2"):
        DARTS(SPACE, order=3)
    with pytest.raises(OneShotError, match="tau_min <= tau_max"):
        GDAS(SPACE, tau_min=5.0, tau_max=1.0)
    with pytest.raises(OneShotError, match="partial_channels must be >= 1"):
        DARTS(SPACE, partial_channels=0)
    with pytest.raises(OneShotError, match="warmup_epochs must be >= 0"):
        GDAS(SPACE, warmup_epochs=-1)
    with pytest.raises(OneShotError, match="epochs must be >= 1"):
        DARTS(SPACE).search(load_task("digits"), epochs=0)
