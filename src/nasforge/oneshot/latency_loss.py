"""Latency in one-shot search: the expected latency of a supernet's architecture weights
(ProxylessNAS), and the predicted latency of a path, both from a latency lookup table.

ProxylessNAS makes latency differentiable: each block's expected latency is the sum of its
candidates' table entries weighted by their probabilities, and the network's is the sum over
blocks. Here a block's candidates are its module choices, kernel and squeeze-and-excitation,
under the shared activation choice (probabilities ``softmax(alpha)``); the value choices
(widths, depths, expansions) are those the supernet currently runs. With the table's
calibration (``offset + scale * sum``), ``E[latency]`` is exact for independent choices.

`LatencyPenalty` turns it into the architecture loss's extra term,
``weight * E[latency] / target`` (ProxylessNAS's additive form, scaled by the target so
that ``weight`` means the same at any latency); `PathLatency` predicts one arch's latency
for the single-path methods (SPOS samples and evolves only archs within the target).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch

from nasforge.arch import Arch, Choice
from nasforge.errors import ConfigError
from nasforge.measure.latency_table import LatencyTable
from nasforge.space.base import SearchSpace
from nasforge.space.mobilenet.latency import LatencyUnit, latency_units
from nasforge.space.mobilenet.names import ACTIVATIONS, block_label
from nasforge.space.mobilenet.space import MobileNetSpace


@dataclass(frozen=True)
class _BlockTerm:
    """One active block: its labels and, per activation, its kernels x SE latencies."""

    kernel_label: str
    se_label: str
    latencies: tuple[torch.Tensor, ...]  # one (kernels, 2) matrix per activation


class ExpectedLatency:
    """``E[latency]`` in milliseconds of a mobilenet supernet's mixture (see the module
    docstring), differentiable in the probabilities."""

    def __init__(
        self,
        space: SearchSpace,
        table: LatencyTable,
        input_shape: tuple[int, ...],
        num_classes: int,
    ) -> None:
        self.space = mobilenet_space(space)
        self.table = check_table(table, space, input_shape, num_classes)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self._cache: dict[tuple[tuple[str, Choice], ...], tuple[torch.Tensor, list[_BlockTerm]]]
        self._cache = {}

    def __call__(
        self, probabilities: Mapping[str, torch.Tensor], values: Mapping[str, Choice]
    ) -> torch.Tensor:
        """``E[latency]`` with module choices drawn from ``probabilities`` (label ->
        vector) at the value choices ``values`` (label -> choice)."""
        fixed, blocks = self._terms(values)
        activation = probabilities["activation"]
        total = activation @ fixed  # stem and head, per activation
        for block in blocks:
            kernel, se = probabilities[block.kernel_label], probabilities[block.se_label]
            per_activation = torch.stack([kernel @ m @ se for m in block.latencies])
            total = total + activation @ per_activation
        return self.table.offset + self.table.scale * total

    def lowest(self, values: Mapping[str, Choice]) -> float:
        """The least latency the module choices can reach at the value choices ``values``."""
        return min(self.lowest_per_activation(values))

    def lowest_per_activation(self, values: Mapping[str, Choice]) -> list[float]:
        """Per activation (in ``ACTIVATIONS`` order), the least latency the kernel and SE
        choices can reach at ``values``. ``E[latency]`` is bilinear in the activation and
        block probabilities, so gradient descent may settle at the best blocks of an
        activation other than the fastest one: each such point is a local minimum."""
        fixed, blocks = self._terms(values)
        return [
            self.table.offset
            + self.table.scale
            * (float(fixed[a]) + sum(float(b.latencies[a].min()) for b in blocks))
            for a in range(len(ACTIVATIONS))
        ]

    def _terms(self, values: Mapping[str, Choice]) -> tuple[torch.Tensor, list[_BlockTerm]]:
        key = tuple(sorted((label, v) for label, v in values.items() if not _module(label)))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        arch = _arch_at(self.space, values)
        units = latency_units(self.space, arch, self.input_shape, self.num_classes)
        fixed = torch.zeros(len(ACTIVATIONS), dtype=torch.float64)
        blocks: list[_BlockTerm] = []
        positions = _block_positions(self.space, arch)
        for unit in units:
            if unit.kind != "block":
                for a, activation in enumerate(ACTIVATIONS):
                    fixed[a] += self._entry(replace(unit, activation=activation))
                continue
            stage, block = positions[len(blocks)]
            matrices = tuple(
                torch.tensor(
                    [
                        [
                            self._entry(replace(unit, kernel=k, se=se, activation=activation))
                            for se in (False, True)
                        ]
                        for k in self.space.kernels
                    ],
                    dtype=torch.float64,
                )
                for activation in ACTIVATIONS
            )
            labels = block_label(stage, block, "kernel"), block_label(stage, block, "se")
            blocks.append(_BlockTerm(*labels, matrices))
        self._cache[key] = (fixed.float(), [_as_float(b) for b in blocks])
        return self._cache[key]

    def _entry(self, unit: LatencyUnit) -> float:
        try:
            return self.table.entries[unit.key]
        except KeyError:
            raise ConfigError(
                f"latency table has no entry {unit.key}: it was built for other space "
                "options or input; build it again"
            ) from None


class LatencyPenalty:
    """``weight * E[latency] / target``: the term a DARTS-family method adds to its
    architecture loss."""

    def __init__(self, expected: ExpectedLatency, target_ms: float, weight: float) -> None:
        if not target_ms > 0:
            raise ConfigError(f"latency target must be > 0 ms, not {target_ms}")
        if not weight >= 0:
            raise ConfigError(f"latency weight must be >= 0, not {weight}")
        self.expected = expected
        self.target_ms = float(target_ms)
        self.weight = float(weight)

    def __call__(
        self, logits: Mapping[str, torch.Tensor], values: Mapping[str, Choice]
    ) -> tuple[torch.Tensor, float]:
        """The penalty (differentiable in ``logits``) and the expected latency in ms."""
        probabilities = {label: torch.softmax(v, dim=-1) for label, v in logits.items()}
        expected = self.expected(probabilities, values)
        return self.weight * expected / self.target_ms, float(expected.detach())


class PathLatency:
    """The table's predicted latency of one arch, and whether it is within the target."""

    def __init__(
        self,
        space: SearchSpace,
        table: LatencyTable,
        input_shape: tuple[int, ...],
        num_classes: int,
        target_ms: float,
    ) -> None:
        if not target_ms > 0:
            raise ConfigError(f"latency target must be > 0 ms, not {target_ms}")
        self.space = mobilenet_space(space)
        self.table = check_table(table, space, input_shape, num_classes)
        self.target_ms = float(target_ms)
        self.text = f"latency_ms <= {target_ms:g}"

    def __call__(self, arch: Arch) -> float:
        return self.table.predict(self.space, arch)

    def fits(self, arch: Arch) -> bool:
        return self(arch) <= self.target_ms


def mobilenet_space(space: SearchSpace) -> MobileNetSpace:
    if not isinstance(space, MobileNetSpace):
        raise ConfigError(
            f"a latency table predicts networks of space 'mobilenet', not {space.name!r}"
        )
    return space


def check_table(
    table: LatencyTable, space: SearchSpace, input_shape: tuple[int, ...], num_classes: int
) -> LatencyTable:
    """``table`` if it was built here, for ``space`` and this input; else one line."""
    table.check_matches(space)
    if tuple(table.input_shape) != tuple(input_shape) or table.classes != num_classes:
        raise ConfigError(
            f"latency table was built for input {tuple(table.input_shape)} and "
            f"{table.classes} classes, the task has {tuple(input_shape)} and {num_classes}: "
            "build one for this task"
        )
    return table


def _module(label: str) -> bool:
    return label == "activation" or label.endswith(("_kernel", "_se"))


def _arch_at(space: MobileNetSpace, values: Mapping[str, Choice]) -> Arch:
    """An arch with ``values`` for the value choices and first choices elsewhere."""
    chosen = {
        d.label: values.get(d.label, d.choices[0]) if not _module(d.label) else d.choices[0]
        for d in space.decisions
    }
    return space.validate(Arch(chosen))


def _block_positions(space: MobileNetSpace, arch: Arch) -> list[tuple[int, int]]:
    """(stage, block index) of every active block, in order."""
    positions: list[tuple[int, int]] = []
    for block in space.blocks(arch):
        index = sum(1 for stage, _ in positions if stage == block.stage)
        positions.append((block.stage, index))
    return positions


def _as_float(block: _BlockTerm) -> _BlockTerm:
    return replace(block, latencies=tuple(m.float() for m in block.latencies))
