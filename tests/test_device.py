"""Devices and precision: names, resolution, placement of trials, and the Trainer under
bf16/fp16 autocast and on the meta device (where a tensor made on the wrong device raises)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data import Task, load_digits_task
from nasforge.device import (
    DeviceError,
    autocast,
    check_gpus_per_trial,
    grad_scaler,
    resolve_device,
    resolve_precision,
    trial_devices,
)
from nasforge.errors import ConfigError
from nasforge.space.nb201.space import NB201Space
from nasforge.training import TrainConfig, Trainer

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the machine without GPU")


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task(seed=0)


def small_net(seed: int = 0) -> nn.Module:
    space = NB201Space(channels=8, cells_per_stage=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return space.build(space.parse(CELL), input_shape=(1, 8, 8), num_classes=10)


# -- names -----------------------------------------------------------------------------------


def test_auto_is_the_cpu_without_a_gpu() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(DeviceError, match="no CUDA GPU") as caught:
        resolve_device(name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["tpu", "gpu", "cpu:1", "mps:0", "", "cuda:-1", "cuda:x"])
def test_unknown_devices_are_refused(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device(name)


def test_a_device_error_is_a_config_error() -> None:
    assert issubclass(DeviceError, ConfigError)


def test_precision_auto_is_fp32_on_the_cpu_and_names_are_checked() -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("BF16", cpu) == "bf16"
    assert resolve_precision("fp16", cpu) == "fp16"
    with pytest.raises(DeviceError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)


def test_train_config_refuses_unknown_devices_and_precisions() -> None:
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        TrainConfig(device="tpu")
    with pytest.raises(DeviceError, match="unknown precision 'half'"):
        TrainConfig(precision="half")


def test_autocast_computes_in_the_precision_and_fp32_is_untouched() -> None:
    layer = nn.Linear(4, 2)
    x = torch.randn(3, 4)
    with autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast("cpu", "fp16"):
        assert layer(x).dtype == torch.float16
    with autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    assert grad_scaler("cpu", "fp16") is not None
    assert grad_scaler("cpu", "bf16") is None


# -- several GPUs ------------------------------------------------------------------------------


def test_trials_go_round_robin_over_the_gpus() -> None:
    assert trial_devices(4, 2) == ["0", "1", "0", "1"]
    assert trial_devices(3, 4) == ["0", "1", "2"]
    assert trial_devices(2, 0) == ["cpu", "cpu"]
    with pytest.raises(ConfigError):
        trial_devices(0, 1)


def test_gpus_per_trial_needs_gpus_in_the_cluster() -> None:
    check_gpus_per_trial(0, 0)
    check_gpus_per_trial(0.5, 2)
    with pytest.raises(DeviceError, match="has no GPU"):
        check_gpus_per_trial(0.25, 0)
    with pytest.raises(DeviceError, match="only 1 GPU"):
        check_gpus_per_trial(2, 1)
    with pytest.raises(DeviceError, match=">= 0"):
        check_gpus_per_trial(-1, 4)


# -- the trainer ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_learns_like_fp32(digits: Task, precision: str) -> None:
    reports, nets = {}, {}
    for name in ("fp32", precision):
        config = TrainConfig(epochs=2, threads=1, seed=0, precision=name)
        nets[name] = small_net()
        reports[name] = Trainer(config).fit(nets[name], digits)
    low, full = reports[precision], reports["fp32"]
    assert low.status.value == "ok"
    assert low.best_valid_accuracy > 0.8
    assert abs(low.best_valid_accuracy - full.best_valid_accuracy) < 0.06
    # not the same numbers: the forward pass really ran in lower precision
    assert low.curve[0].train_loss != full.curve[0].train_loss
    assert {p.dtype for p in nets[precision].parameters()} == {torch.float32}


def test_a_training_step_makes_every_tensor_on_the_models_device() -> None:
    """On the meta device, one CPU tensor mixed into the step raises: the forward pass, the
    loss, the backward pass, clipping and the optimizer step create theirs on the device."""
    trainer = Trainer(TrainConfig(device="meta", threads=1))
    net = small_net().to("meta")
    trainer._params = list(net.parameters())
    optimizer = trainer._optimizer(net)
    x = torch.empty(4, 1, 8, 8, device="meta")
    y = torch.empty(4, dtype=torch.int64, device="meta")
    logits, loss = trainer.forward_loss(net, x, y)
    trainer.backward_step(0, net, loss, optimizer)
    assert logits.device.type == "meta" and loss.device.type == "meta"
    assert all(p.grad is None or p.grad.device.type == "meta" for p in net.parameters())


def test_the_meta_check_catches_a_cpu_tensor() -> None:
    """The check above can fail: a CPU tensor in a meta computation raises."""
    with pytest.raises((RuntimeError, NotImplementedError)):
        _ = torch.empty(3, device="meta") + torch.ones(3).sum() * torch.ones(3)


# -- device discipline beyond the trainer ------------------------------------------------------


def test_architecture_weights_and_their_loss_live_on_the_supernets_device(digits: Task) -> None:
    """alpha, the exclusion masks, the architecture batches and the mixed forward pass of
    the architecture loss: all on the supernet's device (meta: a CPU tensor would raise)."""
    from nasforge.oneshot import make_method
    from nasforge.oneshot.bilevel import split_for_bilevel

    space = NB201Space(channels=4, cells_per_stage=1)
    method = make_method("darts", space, exclude_ops="none")
    supernet = method.build_supernet(digits, 0).to("meta")
    split = split_for_bilevel(digits, 16, 0, method.arch_share_value)
    method._start(supernet, split, 1, 16, 0)
    assert {a.device.type for a in method.alpha_.values()} == {"meta"}
    assert {m.device.type for m in method.exclude_mask_.values()} == {"meta"}
    x_arch, y_arch = method.arch_batches_.next()
    loss = method._arch_loss(x_arch.to("meta"), y_arch.to("meta"))
    assert loss.device.type == "meta"


def test_proxy_inputs_flops_and_latency_use_the_networks_device() -> None:
    from nasforge.measure import count_flops, measure_latency_ms
    from nasforge.proxies.base import ProxyBatch, check_logits

    net = small_net().to("meta")
    batch = ProxyBatch.from_arrays(
        np.zeros((8, 1, 8, 8), np.float32), np.zeros(8, np.int64), 10, size=4
    )
    moved = batch.to("meta")
    assert moved.inputs is not None and moved.inputs.device.type == "meta"
    check_logits(net, batch)  # its probe is made on the network's device
    assert count_flops(net, (1, 8, 8)) > 0
    assert measure_latency_ms(net, (1, 8, 8), repeats=1, warmup=0) >= 0


def test_the_report_says_where_networks_ran() -> None:
    from nasforge.report.html_parts import device_text

    search = {"evaluator": {"params": {"train": {"device": "cuda", "precision": "bf16"}}}}
    assert device_text(search) == "cuda, bf16"
    assert device_text({"oneshot": {"device": "cpu", "precision": "fp32"}}) == "cpu, fp32"
    assert device_text({"evaluator": {"name": "nb201", "params": {}}}) == ""
