"""ENAS and SPOS on digits and on a rigged supernet; the LSTM controller; BN recalibration."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.data.loaders import load_task
from nasforge.data.task import Task, make_task
from nasforge.oneshot import (
    DARTS,
    ENAS,
    METHODS,
    SPOS,
    MemoryEstimate,
    OneShotError,
    OneShotMethod,
    SearchMonitor,
    SuperNet,
    recalibrate_batchnorm,
)
from nasforge.oneshot.calibration import batchnorms
from nasforge.space import NB201Space
from nasforge.space.nb201.net import NB201Network
from nasforge.space.nb201.space import LABELS, OPS
from nasforge.strategy.lstm_policy import LSTMPolicy
from nasforge.training import EpochMetrics, TrainConfig, Trainer, TrainerHooks


def stack(vectors: Mapping[str, np.ndarray], axis: int = 0) -> np.ndarray:
    """One vector (or one array of per-point vectors) per decision, stacked on ``axis``."""
    return np.stack(list(vectors.values()), axis=axis)


SPACE = NB201Space(channels=4, cells_per_stage=1)
QUICK_ENAS = {"controller_steps": 2, "controller_aggregate": 4, "score_examples": 200}
QUICK_SPOS = {"population_size": 6, "generations": 3, "sample_size": 2, "score_examples": 200}

MAKERS: dict[str, Callable[[], OneShotMethod]] = {
    "enas": lambda: ENAS(SPACE, **QUICK_ENAS),
    "spos": lambda: SPOS(SPACE, **QUICK_SPOS),
}


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_task("digits")


@pytest.fixture(scope="module")
def small(digits: Task) -> Task:
    """256 training examples: 4 weight steps of 32 per epoch."""
    return dataclasses.replace(digits, x_train=digits.x_train[:256], y_train=digits.y_train[:256])


def test_every_method_is_registered_by_name() -> None:
    assert set(METHODS) == {"darts", "darts2", "gdas", "enas", "spos", "beta-darts", "pc-darts"}
    assert METHODS["enas"] is ENAS and METHODS["spos"] is SPOS
    darts2 = METHODS["darts2"](SPACE)
    assert isinstance(darts2, DARTS) and darts2.order == 2


# -- what a search returns ------------------------------------------------------------------


def test_enas_returns_an_arch_and_the_controller_distribution_per_epoch(digits: Task) -> None:
    result = ENAS(SPACE, **QUICK_ENAS).search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    assert SPACE.validate(result.arch) == result.arch
    d = result.diagnostics
    assert d.unit == "epoch" and d.epochs == d.points == 2
    assert stack(d.weights, axis=1).shape == (2, 6, 5) and d.entropy.shape == (2, 6)
    np.testing.assert_allclose(stack(d.weights, axis=1).sum(axis=-1), 1.0)
    # the tanh-bounded controller never rules an op out
    assert (stack(d.weights, axis=1) > 0).all() and (d.entropy <= math.log(5) + 1e-9).all()
    assert d.skip_share.shape == (2,) and d.arch_loss.shape == (2,)
    assert np.isfinite(d.arch_loss).all()
    assert ((d.score >= 0) & (d.score <= 1)).all()  # the mean reward: accuracies
    for weights, arch in zip(
        stack(d.weights, axis=1), d.archs, strict=True
    ):  # argmax of the distribution
        assert [OPS[i] for i in weights.argmax(axis=-1)] == [arch[label] for label in LABELS]
    np.testing.assert_allclose(np.exp(stack(result.alpha)), stack(d.weights, axis=1)[-1], rtol=1e-5)
    assert result.report.epochs_run == 2
    json_ready = d.to_dict()
    assert json_ready["unit"] == "epoch" and len(json_ready["score"]) == 2


def test_spos_evolves_on_the_trained_supernet_one_point_per_generation(digits: Task) -> None:
    method = SPOS(SPACE, **QUICK_SPOS)
    result = method.search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    assert SPACE.validate(result.arch) == result.arch
    d = result.diagnostics
    assert d.unit == "generation" and d.points == 3
    assert stack(d.weights, axis=1).shape == (3, 6, 5)  # op frequencies of the population
    np.testing.assert_allclose(stack(d.weights, axis=1).sum(axis=-1), 1.0)
    np.testing.assert_allclose(
        stack(d.weights, axis=1) * 6, np.round(stack(d.weights, axis=1) * 6)
    )  # 6 members
    assert d.archs[-1] == result.arch  # the best arch so far
    assert (np.diff(d.score) >= 0).all() and 0 < d.score[-1] <= 1
    assert d.skip_share[-1] == sum(result.arch[label] == "skip_connect" for label in LABELS) / 6
    assert np.isfinite(d.arch_loss).all()
    assert (stack(result.alpha) == 0).all()  # SPOS has no architecture parameters
    assert 1 <= method.evaluated_ <= 18
    assert result.report.epochs_run == 2


@pytest.mark.parametrize("name", list(MAKERS))
def test_the_supernet_is_left_on_the_arch_with_its_statistics(name: str, digits: Task) -> None:
    result = MAKERS[name]().search(digits, epochs=1, batch_size=64, seed=0, threads=1)
    child = result.child()
    assert isinstance(child, NB201Network)
    x = torch.tensor(digits.x_test[:16])
    result.supernet.eval()
    child.eval()
    with torch.no_grad():  # running statistics recomputed for the arch, and inherited
        torch.testing.assert_close(result.supernet(x), child(x))


@pytest.mark.parametrize("name", list(MAKERS))
def test_same_seed_gives_the_same_architecture(name: str, small: Task) -> None:
    runs = [
        MAKERS[name]().search(small, epochs=1, batch_size=32, seed=seed, threads=1)
        for seed in (3, 3, 4)
    ]
    assert runs[0].arch == runs[1].arch
    np.testing.assert_array_equal(
        stack(runs[0].diagnostics.weights, axis=1), stack(runs[1].diagnostics.weights, axis=1)
    )
    np.testing.assert_array_equal(runs[0].diagnostics.score, runs[1].diagnostics.score)
    for first, second in zip(
        runs[0].supernet_state.values(), runs[1].supernet_state.values(), strict=True
    ):
        assert torch.equal(first, second)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(
            runs[0].supernet_state.values(), runs[2].supernet_state.values(), strict=True
        )
    )


def test_search_leaves_the_global_random_state_alone(small: Task) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ENAS(SPACE, **QUICK_ENAS).search(small, epochs=1, batch_size=32, seed=0, threads=1)
    SPOS(SPACE, **QUICK_SPOS).search(small, epochs=1, batch_size=32, seed=0, threads=1)
    assert torch.equal(torch.rand(3), expected)


# -- a rigged supernet: the score decides ---------------------------------------------------

TARGET = (3, 1, 3, 4, 2, 3)  # op indices per edge
CLASSES = 8


class RiggedSuperNet(SuperNet):
    """An example is classified right iff its key (0..5) is below the number of edges on
    which the current path matches `TARGET`: a path's accuracy is about matches / 6."""

    def __init__(self) -> None:
        super().__init__(NB201Space(channels=1, cells_per_stage=1).choice_space(), (1, 8, 8))
        self.unused = nn.Linear(64, CLASSES)  # something to train

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        path = [self.mode.path[label] for label in LABELS] if self.mode.path else [0] * 6
        matches = sum(p == t for p, t in zip(path, TARGET, strict=True))
        label = x[:, 0, 0, :CLASSES].argmax(dim=1)
        key = (x[:, 0, 1, 0].abs() * 1000).long() % 6
        answer = torch.where(key < matches, label, (label + 1) % CLASSES)
        logits = 10.0 * nn.functional.one_hot(answer, CLASSES).float()
        return logits + 0.0 * self.unused(x.flatten(1))

    def child(self, arch: Arch) -> nn.Module:
        raise NotImplementedError


class RiggedSpace(NB201Space):
    def supernet(
        self, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10, **_: object
    ) -> nn.Module:  # type: ignore[override]
        return RiggedSuperNet()


@pytest.fixture(scope="module")
def rigged_task() -> Task:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1200, 1, 8, 8)).astype(np.float32)
    y = x[:, 0, 0, :CLASSES].argmax(axis=1)
    return make_task("rigged", x, y, x[:100], y[:100], num_classes=CLASSES)


def test_spos_finds_the_path_the_supernet_scores_best(rigged_task: Task) -> None:
    method = SPOS(RiggedSpace(), population_size=20, generations=15, sample_size=5)
    result = method.search(rigged_task, epochs=1, batch_size=64, seed=0, threads=1)
    target = method.supernet_.arch_of(dict(zip(LABELS, TARGET, strict=True)))
    assert result.arch == target
    assert result.diagnostics.score[-1] == 1.0
    assert result.diagnostics.score[0] < 1.0  # the random first generation did not have it
    assert method.evaluated_ < 300  # duplicates are scored once


def test_enas_controller_learns_from_the_supernet_rewards(rigged_task: Task) -> None:
    method = ENAS(RiggedSpace(), controller_steps=10, controller_aggregate=10)
    result = method.search(rigged_task, epochs=6, batch_size=64, seed=0, threads=1)
    d = result.diagnostics
    on_target = stack(d.weights, axis=1)[:, np.arange(6), list(TARGET)].mean(axis=1)
    assert on_target[0] < 0.3 and on_target[-1] > 0.5  # from near-uniform (0.2) to the target
    assert d.score[-1] > d.score[0] + 0.2
    assert d.mean_entropy[-1] < d.mean_entropy[0]
    assert result.arch == method.supernet_.arch_of(dict(zip(LABELS, TARGET, strict=True)))


# -- the shared LSTM controller ---------------------------------------------------------------


def test_controller_marginals_are_exact_and_match_sampling() -> None:
    policy = LSTMPolicy([3, 2, 4], 8, 0.1, seed=0, temperature=0.2, tanh_constant=2.5)
    exact = policy.marginals()
    assert [len(m) for m in exact] == [3, 2, 4]
    for marginal in exact:
        assert marginal.sum() == pytest.approx(1.0)
    draws = policy.sample_many(20_000, torch.Generator().manual_seed(1)).numpy()
    for step, marginal in enumerate(exact):
        frequencies = np.bincount(draws[:, step], minlength=len(marginal)) / len(draws)
        np.testing.assert_allclose(frequencies, marginal, atol=0.015)
    big = LSTMPolicy([5] * 8, 8, 0.1, seed=0)  # 390,625 sequences: estimated by sampling
    estimate = big.marginals(seed=0)
    assert all(m.sum() == pytest.approx(1.0) for m in estimate)
    assert all(np.abs(m - 0.2).max() < 0.05 for m in estimate)


def test_tanh_constant_bounds_every_probability() -> None:
    policy = LSTMPolicy([5] * 3, 8, 1.0, seed=0, temperature=1.0, tanh_constant=1.0)
    for _ in range(30):  # push hard towards op 0 everywhere
        policy.update([([0, 0, 0], 1.0)], entropy_weight=0.0)
    lowest = math.exp(-1) / (math.exp(1) + 4 * math.exp(-1))
    assert min(m.min() for m in policy.marginals()) >= lowest - 1e-6


# -- batch norm, time limit, progress ---------------------------------------------------------


def test_recalibration_recomputes_running_statistics_on_the_batches() -> None:
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3))
    batches = [torch.randn(16, 1, 4, 4) + 5.0 for _ in range(3)]
    assert recalibrate_batchnorm(net, batches) == 3
    bn = batchnorms(net)[0]
    with torch.no_grad():
        features = torch.cat([net[0](b) for b in batches])
    expected = features.transpose(0, 1).reshape(3, -1).mean(dim=1)
    torch.testing.assert_close(bn.running_mean, expected)
    assert bn.momentum == 0.1 and net.training
    assert recalibrate_batchnorm(nn.Linear(2, 2), batches) == 0


def test_child_calibrated_on_training_inputs_predicts_in_eval_mode(digits: Task) -> None:
    result = DARTS(SPACE).search(digits, epochs=2, batch_size=64, seed=0, threads=1)
    fresh = result.child()  # DARTS's candidate ops keep no statistics: the child's are fresh
    calibrated = result.child(digits.x_train)
    batches = math.ceil(len(digits.y_train) / 64)
    assert all(bn.num_batches_tracked == batches for bn in batchnorms(calibrated))
    x = torch.tensor(digits.x_test)
    with torch.no_grad():  # eval mode should predict what batch statistics predict
        reference = calibrated.train()(x).argmax(1)
        agree = (calibrated.eval()(x).argmax(1) == reference).float().mean().item()
        fresh_agree = (fresh.eval()(x).argmax(1) == reference).float().mean().item()
    assert agree > 0.9 and agree > fresh_agree + 0.1


class _Recorder(SearchMonitor):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
        self.events.append(f"start {epochs}")

    def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
        self.events.append(f"epoch {metrics.epoch} {'-' if arch is None else 'arch'}")

    def on_generation(self, generation: int, generations: int, score: float, arch: Arch) -> None:
        self.events.append(f"generation {generation}/{generations}")


def test_monitor_hears_of_epochs_and_generations(small: Task) -> None:
    enas, spos = _Recorder(), _Recorder()
    ENAS(SPACE, **QUICK_ENAS).search(small, epochs=2, batch_size=32, threads=1, monitor=enas)
    SPOS(SPACE, **QUICK_SPOS).search(small, epochs=2, batch_size=32, threads=1, monitor=spos)
    assert enas.events == ["start 2", "epoch 0 arch", "epoch 1 arch"]
    assert spos.events == [
        "start 2",
        "epoch 0 -",
        "epoch 1 -",
        "generation 0/3",
        "generation 1/3",
        "generation 2/3",
    ]


def test_time_limit_ends_training_after_a_whole_epoch(small: Task) -> None:
    method = ENAS(SPACE, **QUICK_ENAS)
    result = method.search(small, epochs=5, batch_size=32, seed=0, threads=1, max_seconds=1e-6)
    report = result.report
    assert report.epochs_run == 1 and report.curve[0].steps == method.steps_per_epoch_ == 6
    # ENAS's supernet trains on all but a validation set (issue 32), no longer on half
    assert method.steps_per_epoch_ == math.ceil(len(method.split_.weights_task.y_train) / 32)
    assert report.reason.startswith("time limit")
    assert result.diagnostics.epochs == 1
    with pytest.raises(OneShotError, match="max_seconds must be > 0"):
        ENAS(SPACE).search(small, epochs=1, max_seconds=0)


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(OneShotError, match="drop partial_channels"):
        ENAS(SPACE, partial_channels=2)
    with pytest.raises(OneShotError, match="drop partial_channels"):
        SPOS(SPACE, partial_channels=2)
    with pytest.raises(OneShotError, match="controller_lr"):
        ENAS(SPACE, controller_lr=0.0)
    with pytest.raises(OneShotError, match="sample_size <= population_size"):
        SPOS(SPACE, population_size=4, sample_size=5)


def test_gdas_survives_a_sampled_path_that_ignores_alpha(
    small: Task, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every edge "none" (op 0): the loss does not depend on alpha; its gradient is zero."""
    import nasforge.oneshot.gdas as gdas_module

    calls = [0]

    def all_none(
        alpha: dict[str, torch.Tensor], tau: float, generator: torch.Generator
    ) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        calls[0] += 1
        hard = {}
        for label, vector in alpha.items():
            soft = vector.softmax(-1)
            hard[label] = torch.eye(len(vector))[0] - soft.detach() + soft
        return hard, dict.fromkeys(alpha, 0)

    monkeypatch.setattr(gdas_module, "gumbel_hard", all_none)
    result = gdas_module.GDAS(SPACE).search(small, epochs=1, batch_size=32, seed=0, threads=1)
    assert calls[0] > 0 and np.isfinite(stack(result.alpha)).all()


class _StopAfter(TrainerHooks):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def should_stop(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> str | None:
        return "enough" if epoch >= self.epoch else None


def test_a_trainer_hook_can_end_training_after_an_epoch(small: Task) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    report = Trainer(TrainConfig(epochs=5, threads=1), hooks=[_StopAfter(1)]).fit(model, small)
    assert report.epochs_run == 2 and report.reason == "enough"
    report = Trainer(TrainConfig(epochs=2, threads=1), hooks=[_StopAfter(1)]).fit(model, small)
    assert report.epochs_run == 2 and report.reason == "trained 2 epochs"
