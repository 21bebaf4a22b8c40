"""Devices and precision: the one place that reads a device or precision name.

A leaf module (torch and `nasforge.errors` only), so that measurement, proxies, the
Trainer and one-shot methods below `run` and `cli` can all take a device from it.

A device enters at the edge (``--device`` or an API argument) as text: ``auto`` (a CUDA GPU
if torch sees one, else Apple's MPS if torch sees it, else the CPU), ``cpu``, ``cuda``,
``cuda:N`` or ``mps``. `resolve_device` turns it into a `torch.device` and refuses a device
torch cannot use here with one line (`DeviceError`, a bad input). Everything else receives
the resolved device and creates its tensors on it; no other module names a device.

A precision is ``fp32`` (plain float32), ``bf16`` (autocast to bfloat16: no gradient
scaling needed, runs on the CPU too) or ``fp16`` (autocast to float16 with a
`torch.amp.GradScaler`, as on a GPU; torch's CPU autocast takes float16 as well, so the
same path runs and is tested on the CPU), or ``auto``: bf16 on a GPU that supports it, else
fp16 on a GPU, fp32 elsewhere. Parameters and optimizer state stay float32 in every case.

Several GPUs: `trial_devices` places one trial worker per visible GPU, round-robin, and
`check_gpus_per_trial` refuses a Ray reservation of GPUs on a cluster that has none.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator

import torch

from nasforge.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""The device names users may give (``cuda:N`` for GPU number N)."""
PRECISIONS = ("fp32", "bf16", "fp16")
"""The precisions a fit may use."""
PRECISION_CHOICES = ("auto", *PRECISIONS)
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_DEVICE = re.compile(r"^(?P<kind>auto|cpu|cuda|mps)(?::(?P<index>\d+))?$")


class DeviceError(ConfigError):
    """A device or precision that is unknown or not available on this machine."""


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The `torch.device` for ``name``, checked to be available here.

    ``auto`` is ``cuda`` if torch sees a GPU, else ``mps`` if torch sees one, else ``cpu``.
    ``cuda`` without an index stays ``cuda`` (torch's current GPU; a worker given one GPU
    sees it as its only one)."""
    if isinstance(name, torch.device):
        name = str(name)
    text = name.strip().lower()
    match = _DEVICE.match(text)
    if match is None or (match["index"] is not None and match["kind"] != "cuda"):
        raise DeviceError(f"unknown device {name!r}; choose from {', '.join(DEVICES)}")
    kind = match["kind"]
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                f"device {name!r}: torch sees no CUDA GPU on this machine "
                "(use --device cpu, or auto to take a GPU when there is one)"
            )
        index = match["index"]
        if index is not None and int(index) >= count:
            raise DeviceError(
                f"device {name!r}: torch sees {count} CUDA GPU(s), numbered 0 to {count - 1}"
            )
        return torch.device(text)
    if kind == "mps" and not _mps_available():
        raise DeviceError(f"device {name!r}: torch sees no Apple MPS device on this machine")
    return torch.device(kind)


def check_device_name(name: str) -> None:
    """Refuse text that names no device (without asking whether it is available here: a
    stored configuration is read on any machine, and resolved where it runs)."""
    match = _DEVICE.match(name.strip().lower())
    if name != "meta" and (
        match is None or (match["index"] is not None and match["kind"] != "cuda")
    ):
        raise DeviceError(f"unknown device {name!r}; choose from {', '.join(DEVICES)}")


def check_precision_name(name: str) -> None:
    """Refuse text that names no precision (``auto`` included)."""
    if name.strip().lower() not in PRECISION_CHOICES:
        raise DeviceError(f"unknown precision {name!r}; choose from {', '.join(PRECISION_CHOICES)}")


def fit_device(name: str) -> torch.device:
    """The device a fit runs on: `resolve_device`, and the meta device as it is (for tests
    that check every tensor of a step is made on the model's device)."""
    return torch.device("meta") if name == "meta" else resolve_device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``fp16`` for ``name`` on ``device`` (``auto``: bf16 on a GPU
    that supports it, else fp16 on a GPU, fp32 on the CPU and MPS)."""
    check_precision_name(name)
    text = name.strip().lower()
    if text != "auto":
        return text
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def resolve_settings(device: str = "auto", precision: str = "auto") -> tuple[str, str]:
    """The device and precision a run records, resolved and checked: e.g. ``("cpu",
    "fp32")`` for ``("auto", "auto")`` on a machine without a GPU."""
    resolved = resolve_device(device)
    return str(resolved), resolve_precision(precision, resolved)


def ray_gpu_settings(device: str, precision: str) -> tuple[str, str]:
    """The device and precision of trials that Ray places on GPUs (``--gpus-per-trial``):
    ``cuda``, which is not checked here (the machine that starts the search may have no
    GPU; each trial resolves it where it runs, on the GPU Ray gives it)."""
    if device.strip().lower() not in ("auto", "cuda"):
        raise DeviceError(
            f"--gpus-per-trial runs each trial on the GPU Ray reserves for it: use --device "
            f"auto or cuda, not {device!r}"
        )
    check_precision_name(precision)
    return "cuda", precision.strip().lower()


@contextlib.contextmanager
def autocast(device: torch.device | str, precision: str) -> Iterator[None]:
    """Autocast to the precision's dtype on ``device`` (nothing for fp32 and the meta device)."""
    device = torch.device(device)
    if precision == "fp32" or device.type == "meta":
        yield
        return
    with torch.autocast(device.type, dtype=DTYPES[precision]):
        yield


def grad_scaler(device: torch.device | str, precision: str) -> torch.amp.GradScaler | None:
    """A gradient scaler for fp16 (whose small gradients underflow without one), else None."""
    device = torch.device(device)
    if precision != "fp16" or device.type == "meta":
        return None
    return torch.amp.GradScaler(device.type)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def gpu_name(device: str | torch.device) -> str | None:
    """The name of the GPU ``device`` names, as torch reports it (None for the CPU and for a
    GPU torch does not see here)."""
    placed = torch.device(device)
    if placed.type != "cuda" or not torch.cuda.is_available():
        return None
    index = placed.index if placed.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        return None
    return str(torch.cuda.get_device_name(index))


def visible_gpus() -> int:
    """CUDA GPUs torch sees in this process (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def trial_devices(workers: int, gpus: int) -> list[str]:
    """The device of each of ``workers`` trial workers: GPUs round-robin (``"0"``, ``"1"``,
    ... as the worker's CUDA_VISIBLE_DEVICES, so each sees one GPU as ``cuda``), or
    ``"cpu"`` for every worker when there is no GPU. 4 workers over 2 GPUs: 0, 1, 0, 1."""
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    if gpus < 0:
        raise ConfigError(f"GPUs must be >= 0, not {gpus}")
    if gpus == 0:
        return ["cpu"] * workers
    return [str(worker % gpus) for worker in range(workers)]


def check_gpus_per_trial(gpus_per_trial: float, cluster_gpus: float) -> None:
    """Refuse a GPU reservation per trial that is negative, not a number, or asks for GPUs
    on a cluster without any (Ray would wait for them forever)."""
    if not (math.isfinite(gpus_per_trial) and gpus_per_trial >= 0):
        raise DeviceError(f"--gpus-per-trial must be a number >= 0, not {gpus_per_trial}")
    if gpus_per_trial > 0 and cluster_gpus <= 0:
        raise DeviceError(
            f"--gpus-per-trial {gpus_per_trial:g}: the Ray cluster has no GPU "
            "(drop the option, or join a cluster with GPUs)"
        )
    if gpus_per_trial > cluster_gpus > 0:
        raise DeviceError(
            f"--gpus-per-trial {gpus_per_trial:g}: the Ray cluster has only "
            f"{cluster_gpus:g} GPU(s), so no trial could start"
        )


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())
