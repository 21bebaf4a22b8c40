"""What a zero-cost proxy is: a named score of an untrained network, from one mini-batch or none.

A proxy function may change the network it is given (abs its weights, fill gradients, run it
in double precision). `score_network` is the public entry point: it scores a deep copy, so the
caller's network keeps its weights, gradients, buffers and mode.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from nasforge.device import autocast
from nasforge.errors import NasforgeError
from nasforge.measure.latency import model_device

if TYPE_CHECKING:
    from nasforge.data.image_files import ImageFiles


class ProxyError(NasforgeError, ValueError):
    """A proxy is unknown, lacks the data it needs, or cannot score the network it is given."""


@dataclass(frozen=True)
class ProxyBatch:
    """The mini-batch a proxy scores with; ``inputs`` and ``targets`` are None without data.

    Data-free proxies use only ``input_shape``, ``num_classes`` and ``size``.
    """

    input_shape: tuple[int, ...]
    num_classes: int
    inputs: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    size: int = 64

    @property
    def has_data(self) -> bool:
        return self.inputs is not None and self.targets is not None

    def to(self, device: torch.device | str) -> ProxyBatch:
        """This batch with its inputs and targets on ``device``."""
        return dataclasses.replace(
            self,
            inputs=None if self.inputs is None else self.inputs.to(device),
            targets=None if self.targets is None else self.targets.to(device),
        )

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray | ImageFiles,
        y: np.ndarray,
        num_classes: int,
        *,
        size: int = 64,
        seed: int = 0,
    ) -> ProxyBatch:
        """``size`` examples drawn without replacement by ``seed`` (x already normalized;
        of `ImageFiles`, only those are decoded)."""
        if len(x) == 0:
            raise ProxyError("cannot draw a proxy mini-batch from an empty training set")
        count = min(size, len(x))
        rows = np.sort(np.random.default_rng(seed).choice(len(x), count, replace=False))
        return cls(
            input_shape=tuple(int(n) for n in x.shape[1:]),
            num_classes=num_classes,
            inputs=torch.from_numpy(np.ascontiguousarray(x[rows], dtype=np.float32)),
            targets=torch.from_numpy(np.asarray(y[rows], dtype=np.int64)),
            size=count,
        )


ProxyFunction = Callable[[nn.Module, ProxyBatch], float]


@dataclass(frozen=True)
class Proxy:
    """A registered proxy: its name, whether it needs real data, and the scoring function."""

    name: str
    needs_data: bool
    function: ProxyFunction
    summary: str
    exact: bool = False
    """Computes in a precision of its own (synflow: float64), so never autocast."""


PROXIES: dict[str, Proxy] = {}


def register(
    name: str, *, needs_data: bool, summary: str, exact: bool = False
) -> Callable[[ProxyFunction], ProxyFunction]:
    """Decorator: add a scoring function to `PROXIES` under ``name`` (``exact``: it sets
    its own precision and is never autocast)."""

    def add(function: ProxyFunction) -> ProxyFunction:
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} is registered twice")
        PROXIES[name] = Proxy(name, needs_data, function, summary, exact)
        return function

    return add


def get_proxy(name: str) -> Proxy:
    """The registered proxy called ``name``; an unknown name is a one-line error."""
    _load_builtin_proxies()
    try:
        return PROXIES[name]
    except KeyError:
        raise ProxyError(
            f"unknown proxy {name!r}; choose from {', '.join(sorted(PROXIES))}"
        ) from None


def proxy_names() -> list[str]:
    _load_builtin_proxies()
    return sorted(PROXIES)


def check_proxy_names(names: list[str], batch: ProxyBatch) -> list[Proxy]:
    """The proxies called ``names``, checked to exist and to have the data they need."""
    proxies = [get_proxy(name) for name in names]
    if not batch.has_data:
        needing = [proxy.name for proxy in proxies if proxy.needs_data]
        data_free = [name for name in proxy_names() if not PROXIES[name].needs_data]
        if needing:
            raise ProxyError(
                f"proxy {', '.join(needing)} needs a mini-batch of data; give a task "
                f"(data-free proxies: {', '.join(data_free)})"
            )
    return proxies


def score_network(
    name: str, network: nn.Module, batch: ProxyBatch, *, seed: int = 0, precision: str = "fp32"
) -> float:
    """Score ``network`` with the proxy ``name`` on the network's device, under
    ``precision``'s autocast (`run_proxy`); the network itself is left unchanged."""
    proxy = check_proxy_names([name], batch)[0]
    check_logits(network, batch)
    return run_proxy(proxy, copy.deepcopy(network), batch, seed=seed, precision=precision)


def run_proxy(
    proxy: Proxy, network: nn.Module, batch: ProxyBatch, *, seed: int = 0, precision: str = "fp32"
) -> float:
    """Score a network the caller gives up (it may be changed); seeded, so deterministic.

    The batch is moved to the network's device; the proxy runs under ``precision``'s
    autocast (bf16, fp16) unless it computes in a precision of its own (``exact``)."""
    device = model_device(network)
    with seeded(seed), autocast(device, "fp32" if proxy.exact else precision):
        network.zero_grad(set_to_none=True)
        return float(proxy.function(network, batch.to(device)))


def check_logits(network: nn.Module, batch: ProxyBatch) -> None:
    """Fail with one line unless the network maps a batch to (batch, num_classes) logits."""
    probe = torch.zeros(2, *batch.input_shape, device=model_device(network))
    was_training = network.training
    try:
        network.eval()
        with torch.no_grad():
            output = network(probe)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProxyError(
            f"the network cannot take inputs of shape {batch.input_shape}: {first_line}"
        ) from None
    finally:
        network.train(was_training)
    expected = (2, batch.num_classes)
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != expected:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ProxyError(
            f"the network's output is {shape} for a batch of 2, not logits of the task's "
            f"{batch.num_classes} classes {expected}"
        )


class seeded:
    """Seed torch's global generator inside a block and restore its state after."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        self.state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc: object) -> None:
        torch.random.set_rng_state(self.state)


# -- helpers the proxy functions share --------------------------------------------------

WEIGHTED_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


def weighted_layers(network: nn.Module) -> Iterator[nn.Module]:
    """Convolution and linear layers: the layers whose weights proxies score, as in NASLib."""
    for module in network.modules():
        if isinstance(module, WEIGHTED_LAYERS):
            yield module


def layer_weights(network: nn.Module) -> list[torch.Tensor]:
    """The weight tensors of `weighted_layers` (biases are not scored)."""
    weights = []
    for layer in weighted_layers(network):
        weight = layer.weight
        assert isinstance(weight, torch.Tensor)
        weights.append(weight)
    return weights


def sum_over_weights(
    network: nn.Module, per_weight: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> float:
    """Sum of ``per_weight(weight, gradient)`` over layer weights that have a gradient."""
    total = 0.0
    for weight in layer_weights(network):
        if weight.grad is not None:
            total += float(per_weight(weight.detach(), weight.grad).sum())
    return total


def backward(tensor: torch.Tensor, gradient: torch.Tensor | None = None) -> None:
    """``tensor.backward`` (typed)."""
    tensor.backward(gradient)  # type: ignore[no-untyped-call]


def data_of(batch: ProxyBatch, proxy: str) -> tuple[torch.Tensor, torch.Tensor]:
    if batch.inputs is None or batch.targets is None:
        raise ProxyError(f"proxy {proxy!r} needs a mini-batch of data; give a task")
    return batch.inputs, batch.targets


def _load_builtin_proxies() -> None:
    from nasforge.proxies import builtin  # noqa: F401 - registers the proxies on import
