"""The Trainer: learning, determinism, divergence, time limit, early stopping and hooks."""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data import DataError, Task, load_digits_task, make_task
from nasforge.errors import ConfigError
from nasforge.space.nb201.space import NB201Space
from nasforge.status import Status
from nasforge.training import EpochMetrics, TrainConfig, Trainer, TrainerHooks, TrainReport
from nasforge.training.augment import crop_and_flip
from nasforge.training.trainer import is_channels_last

CELL = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
FAST = TrainConfig(epochs=3, batch_size=64, lr=0.05, threads=1, seed=0)


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task(seed=0)


def nb201_net(init_seed: int = 0) -> nn.Module:
    space = NB201Space(channels=8, cells_per_stage=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return space.build(space.parse(CELL), input_shape=(1, 8, 8), num_classes=10)


def linear_net(init_seed: int = 0) -> nn.Module:
    """A model without BatchNorm: with lr=0 its predictions never change."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(scope="module")
def trained(digits: Task) -> tuple[nn.Module, TrainReport]:
    net = nb201_net()
    return net, Trainer(FAST).fit(net, digits)


def curve_values(report: TrainReport) -> list[tuple[float, ...]]:
    return [(m.steps, m.train_loss, m.train_accuracy, m.valid_accuracy, m.lr) for m in report.curve]


# -- learning --------------------------------------------------------------------------------


def test_nb201_net_learns_digits_in_three_epochs(
    digits: Task, trained: tuple[nn.Module, TrainReport]
) -> None:
    net, report = trained
    assert report.status is Status.OK and report.reason == "trained 3 epochs"
    assert report.epochs_run == 3
    assert report.steps == 3 * math.ceil(len(digits.y_train) / 64)
    assert report.best_valid_accuracy > 0.9  # measured: 0.965 (0.86 after one epoch)
    assert report.last_valid_accuracy == report.curve[-1].valid_accuracy
    assert report.curve[0].train_loss > report.curve[-1].train_loss
    assert report.curve[0].lr == FAST.lr > report.curve[1].lr > report.curve[2].lr  # cosine
    accuracy = Trainer(FAST).evaluate(net, digits.x_valid, digits.y_valid)
    assert accuracy == report.last_valid_accuracy
    assert Trainer(FAST).evaluate(net, digits.x_test, digits.y_test) > 0.9


def test_same_seed_gives_identical_curve_and_weights(
    digits: Task, trained: tuple[nn.Module, TrainReport]
) -> None:
    net, report = trained
    again = nb201_net()
    report_again = Trainer(FAST).fit(again, digits)
    assert curve_values(report_again) == curve_values(report)
    for (name, a), b in zip(net.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_different_seed_gives_a_different_curve(
    digits: Task, trained: tuple[nn.Module, TrainReport]
) -> None:
    _, report = trained
    config = TrainConfig(epochs=1, batch_size=64, lr=0.05, threads=1, seed=1)
    other = Trainer(config).fit(nb201_net(), digits)
    assert other.curve[0].train_loss != report.curve[0].train_loss


def test_fit_leaves_global_torch_state_alone(digits: Task) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    config = TrainConfig(epochs=1, batch_size=256, threads=1, seed=9)
    Trainer(config).fit(linear_net(), digits)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


# -- how training ends -------------------------------------------------------------------------


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)) * float("nan")


def test_nan_loss_ends_as_diverged_without_raising(digits: Task) -> None:
    report = Trainer(TrainConfig(epochs=3, threads=1)).fit(NaNModel(), digits)
    assert report.status is Status.DIVERGED
    assert report.reason == "loss became nan at epoch 0, step 0"
    assert report.curve == () and report.steps == 0


def test_huge_learning_rate_diverges(digits: Task) -> None:
    config = TrainConfig(epochs=5, lr=1e30, grad_clip=None, cosine=False, threads=1)
    report = Trainer(config).fit(linear_net(), digits)
    assert report.status is Status.DIVERGED
    assert report.reason.startswith("loss became ")


class Sleep(TrainerHooks):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        time.sleep(self.seconds)


def test_time_limit_stops_early_with_status_ok(digits: Task) -> None:
    config = TrainConfig(epochs=5, batch_size=64, max_seconds=0.1, threads=1)
    report = Trainer(config, hooks=[Sleep(0.03)]).fit(linear_net(), digits)
    assert report.status is Status.OK and report.reason == "time limit"
    assert report.epochs_run == 1
    assert 1 <= report.curve[0].steps < math.ceil(len(digits.y_train) / 64)
    assert report.seconds < 2


def test_early_stopping_after_patience_epochs_without_improvement(digits: Task) -> None:
    # lr=0 and no BatchNorm: the validation accuracy is the same after every epoch
    config = TrainConfig(epochs=10, batch_size=256, lr=0.0, early_stopping_patience=2, threads=1)
    report = Trainer(config).fit(linear_net(), digits)
    assert report.status is Status.OK
    assert report.reason == "early stopping: no better valid accuracy for 2 epochs"
    assert report.epochs_run == 3
    assert len({m.valid_accuracy for m in report.curve}) == 1
    assert report.best_epoch == 0


# -- hooks ------------------------------------------------------------------------------------


class Recorder(TrainerHooks):
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.steps: list[int] = []
        self.grads_seen = 0
        self.metrics: list[EpochMetrics] = []

    def on_fit_start(self, model: nn.Module, task: Task) -> None:
        self.calls["fit_start"] += 1

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        self.calls["epoch_start"] += 1

    def on_batch_start(self, step: int, model: nn.Module) -> None:
        self.calls["batch_start"] += 1
        self.steps.append(step)

    def after_backward(self, step: int, model: nn.Module) -> None:
        self.calls["after_backward"] += 1
        self.grads_seen += all(p.grad is not None for p in model.parameters())

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.calls["batch_end"] += 1

    def on_epoch_end(self, epoch: int, model: nn.Module, metrics: EpochMetrics) -> None:
        self.calls["epoch_end"] += 1
        self.metrics.append(metrics)

    def on_fit_end(self, model: nn.Module, report: TrainReport) -> None:
        self.calls["fit_end"] += 1


def test_hooks_are_called_once_per_fit_epoch_and_batch(digits: Task) -> None:
    first, second = Recorder(), Recorder()
    config = TrainConfig(epochs=2, batch_size=256, threads=1)
    report = Trainer(config, hooks=[first, second]).fit(linear_net(), digits)
    per_epoch = math.ceil(len(digits.y_train) / 256)  # 1295 examples: 6 batches
    for hooks in (first, second):
        assert hooks.calls == {
            "fit_start": 1,
            "epoch_start": 2,
            "batch_start": 2 * per_epoch,
            "after_backward": 2 * per_epoch,
            "batch_end": 2 * per_epoch,
            "epoch_end": 2,
            "fit_end": 1,
        }
        assert hooks.steps == list(range(2 * per_epoch))
        assert hooks.grads_seen == 2 * per_epoch
        assert tuple(hooks.metrics) == report.curve


# -- images, augmentation, config ------------------------------------------------------------


def image_task() -> Task:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3, 16, 16)).astype(np.float32)
    y = np.arange(96) % 4
    return make_task("noise16", x, y, x[:16], y[:16], valid_fraction=0.25)


def test_augment_and_channels_last_run_deterministically() -> None:
    task = image_task()
    config = TrainConfig(
        epochs=1, batch_size=32, augment=True, channels_last=True, optimizer="adamw", threads=1
    )
    space = NB201Space(channels=4, cells_per_stage=1)
    reports = []
    for _ in range(2):
        torch.manual_seed(0)
        net = space.build(space.parse(CELL), input_shape=(3, 32, 32), num_classes=4)
        reports.append(Trainer(config).fit(net, task))
    assert reports[0].status is Status.OK
    assert curve_values(reports[0]) == curve_values(reports[1])


class LayoutProbe(TrainerHooks):
    """Records the memory format of the model's first conv weight and of each batch."""

    def __init__(self) -> None:
        self.weights: list[bool] = []
        self.batches: list[bool] = []

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        self.weights.append(is_channels_last(model))
        self.batches.append(stored_channels_last(x))


def stored_channels_last(x: torch.Tensor) -> bool:
    """Channels_last and not contiguous (a 1-channel batch is both, so it tells nothing)."""
    return (
        x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    )


def test_channels_last_is_the_default_for_image_models_and_is_undone(digits: Task) -> None:
    probe = LayoutProbe()
    net = nb201_net()
    assert TrainConfig().channels_last
    Trainer(replace(FAST, epochs=1), hooks=[probe]).fit(net, digits)
    assert probe.weights and all(probe.weights)
    assert not is_channels_last(net)  # given back in the format it came in
    assert all(p.is_contiguous() for p in net.parameters())


def test_channels_last_batches_of_a_three_channel_task() -> None:
    probe = LayoutProbe()
    space = NB201Space(channels=4, cells_per_stage=1)
    torch.manual_seed(0)
    net = space.build(space.parse(CELL), input_shape=(3, 16, 16), num_classes=4)
    config = TrainConfig(epochs=1, batch_size=32, augment=True, threads=1)
    Trainer(config, hooks=[probe]).fit(net, image_task())
    assert probe.batches and all(probe.batches) and all(probe.weights)


def test_a_channels_last_model_stays_channels_last(digits: Task) -> None:
    net = nb201_net().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    Trainer(replace(FAST, epochs=1)).fit(net, digits)
    assert is_channels_last(net)


def test_channels_last_off_keeps_the_contiguous_format(digits: Task) -> None:
    probe = LayoutProbe()
    config = TrainConfig(epochs=1, batch_size=32, threads=1, channels_last=False)
    space = NB201Space(channels=4, cells_per_stage=1)
    net = space.build(space.parse(CELL), input_shape=(3, 16, 16), num_classes=4)
    Trainer(config, hooks=[probe]).fit(net, image_task())
    assert probe.weights and not any(probe.weights) and not any(probe.batches)


def test_channels_last_is_not_applied_to_flat_inputs(digits: Task) -> None:
    flat = replace(
        digits,
        x_train=digits.x_train.reshape(len(digits.x_train), -1),
        x_valid=digits.x_valid.reshape(len(digits.x_valid), -1),
        x_test=digits.x_test.reshape(len(digits.x_test), -1),
    )
    probe = LayoutProbe()
    report = Trainer(replace(FAST, epochs=1), hooks=[probe]).fit(linear_net(), flat)
    assert report.status is Status.OK and report.last_valid_accuracy > 0.5
    assert not any(probe.batches)


def test_channels_last_trains_the_same_network_up_to_rounding(digits: Task) -> None:
    """Same weights, shuffles and steps in both memory formats: the first losses agree to
    float rounding (the layouts sum in different orders), and the rounding differences grow
    only slowly over an epoch (measured: at most 0.3% of the loss after 16 steps)."""
    runs = []
    for channels_last in (True, False):
        losses = LossLog()
        config = replace(FAST, epochs=1, channels_last=channels_last)
        report = Trainer(config, hooks=[losses]).fit(nb201_net(), digits)
        runs.append((losses.values, report))
    (losses_cl, report_cl), (losses_plain, report_plain) = runs
    assert len(losses_cl) == len(losses_plain) > 10
    assert losses_cl[:3] == pytest.approx(losses_plain[:3], rel=1e-4)
    assert losses_cl == pytest.approx(losses_plain, rel=2e-2)
    assert abs(report_cl.last_valid_accuracy - report_plain.last_valid_accuracy) <= 0.02


def test_outputs_agree_between_memory_formats(
    digits: Task, trained: tuple[nn.Module, TrainReport]
) -> None:
    net, _ = trained
    x = torch.tensor(digits.x_valid)
    net.eval()
    with torch.no_grad():
        contiguous = net(x)
        other = copy.deepcopy(net).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        channels_last = other(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(channels_last, contiguous, rtol=1e-4, atol=1e-5)


def test_sgd_uses_the_fused_kernel_on_cpu(digits: Task) -> None:
    trainer = Trainer(replace(FAST, epochs=1))
    trainer.fit(nb201_net(), digits)
    assert trainer.optimizer is not None and trainer.optimizer.defaults["fused"] is True
    adamw = Trainer(replace(FAST, epochs=1, optimizer="adamw"))
    adamw.fit(nb201_net(), digits)
    assert adamw.optimizer is not None and not adamw.optimizer.defaults["fused"]


class PartlyUsed(nn.Module):
    """A linear classifier with a second layer that only every other batch goes through
    (as a supernet path leaves some weights without gradients)."""

    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(64, 10)
        self.sometimes = nn.Linear(10, 10)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out: torch.Tensor = self.used(x.flatten(1))
        return self.sometimes(out) if self.calls % 2 == 0 and self.training else out


def test_fused_sgd_matches_the_default_sgd_with_parameters_left_without_gradients(
    digits: Task,
) -> None:
    torch.manual_seed(0)
    net = PartlyUsed()
    reference = copy.deepcopy(net)
    Trainer(replace(FAST, epochs=1)).fit(net, digits)
    optimizer = torch.optim.SGD(
        reference.parameters(),
        lr=FAST.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=FAST.weight_decay,
        fused=False,
    )
    trainer = Trainer(replace(FAST, epochs=1))
    trainer._optimizer = lambda model: optimizer  # type: ignore[method-assign]
    trainer.fit(reference, digits)
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, reference.state_dict()[name], rtol=1e-5, atol=1e-6)


class LossLog(TrainerHooks):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        self.values.append(loss)


def test_crop_and_flip_gives_shifted_or_mirrored_crops() -> None:
    x = torch.arange(4 * 2 * 16 * 16, dtype=torch.float32).reshape(4, 2, 16, 16)
    out = crop_and_flip(x, torch.Generator().manual_seed(0))
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(4):
        crops = [padded[i, :, r : r + 16, c : c + 16] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(2)) for c in crops)


class RecordLr(TrainerHooks):
    """The learning rate of every optimizer step."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.lrs = trainer, list[float]()

    def after_backward(self, step: int, model: nn.Module) -> None:
        assert self.trainer.optimizer is not None
        self.lrs.append(float(self.trainer.optimizer.param_groups[0]["lr"]))


@pytest.mark.parametrize("eta_min", [0.0, 0.001])
def test_cosine_anneals_per_step_to_eta_min(digits: Task, eta_min: float) -> None:
    config = TrainConfig(epochs=2, batch_size=256, lr=0.05, eta_min=eta_min, threads=1)
    trainer = Trainer(config)
    record = RecordLr(trainer)
    trainer.hooks = (record,)
    trainer.fit(linear_net(), digits)
    total = 2 * math.ceil(len(digits.y_train) / 256)
    expected = [
        eta_min + (0.05 - eta_min) * 0.5 * (1 + math.cos(math.pi * t / total)) for t in range(total)
    ]
    assert record.lrs == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert record.lrs[-1] > eta_min  # the last step's lr is just above the floor,
    assert trainer.optimizer is not None  # which the schedule reaches after it
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(eta_min, abs=1e-12)
    assert TrainConfig().eta_min == 0.0  # plain training anneals to 0, as before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"optimizer": "lamb"}, "unknown optimizer 'lamb'; choose from sgd, adamw"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"grad_clip": 0.0}, "grad_clip must be > 0 or None"),
        ({"early_stopping_patience": 0}, "early_stopping_patience must be >= 1"),
        ({"max_seconds": -1.0}, "max_seconds must be > 0"),
        ({"eta_min": -1e-3}, r"eta_min must lie in \[0, lr\]"),
        ({"lr": 0.01, "eta_min": 0.02}, r"eta_min must lie in \[0, lr\] = \[0, 0.01\]"),
    ],
)
def test_train_config_rejects_bad_values(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**params)  # type: ignore[arg-type]


def test_evaluate_rejects_mismatched_lengths(digits: Task) -> None:
    with pytest.raises(DataError, match="x has 10 rows but y has 9"):
        Trainer(FAST).evaluate(linear_net(), digits.x_test[:10], digits.y_test[:9])
