"""`describe_arch`: what one architecture of a space is: its canonical form, parameters,
multiply-adds, measured batch-1 CPU latency, and its picture (`SearchSpace.pictures`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.measure.flops import count_flops
from nasforge.measure.latency import measure_latency_ms
from nasforge.measure.parameters import count_parameters
from nasforge.space.base import SearchSpace
from nasforge.space.picture import ArchPicture

DEFAULT_INPUT_SHAPES: dict[str, tuple[int, ...]] = {"conv1d": (1, 40), "mlp": (64,)}
"""Inputs a space is described on when none is given; (3, 32, 32) for the others."""
AUXILIARY_ATTRIBUTES = ("auxiliary_head", "auxiliary")
"""Where a network keeps a training-only auxiliary head, left out of `params`."""


@dataclass(frozen=True)
class ArchDescription:
    space: str
    arch: str
    canonical: str
    input_shape: tuple[int, ...]
    resolution: int | None
    """The side of the images the network sees (and `flops` counts): the input's height,
    or the size the space resizes inputs to; None for inputs that are not images."""
    classes: int
    params: int
    """Parameters of the network, without an auxiliary head."""
    auxiliary_params: int
    flops: int
    """Multiply-adds of one forward pass (`nasforge.measure.count_flops`)."""
    latency_ms: float | None
    """Median batch-1 forward time on this CPU; None when not measured."""
    threads: int
    pictures: tuple[ArchPicture, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "arch": self.arch,
            "canonical": self.canonical,
            "input_shape": list(self.input_shape),
            "resolution": self.resolution,
            "classes": self.classes,
            "params": self.params,
            "auxiliary_params": self.auxiliary_params,
            "flops": self.flops,
            "latency_ms": self.latency_ms,
            "threads": self.threads,
        }


def default_input_shape(space: SearchSpace) -> tuple[int, ...]:
    return DEFAULT_INPUT_SHAPES.get(space.name, (3, 32, 32))


def describe_arch(
    space: SearchSpace,
    arch: Arch,
    *,
    input_shape: tuple[int, ...] | None = None,
    classes: int = 10,
    latency: bool = True,
    repeats: int = 20,
) -> ArchDescription:
    arch = space.validate(arch)
    shape = input_shape if input_shape is not None else default_input_shape(space)
    space.check_input(shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = space.build(arch, shape, classes).eval()
    auxiliary = sum(
        count_parameters(head)
        for name in AUXILIARY_ATTRIBUTES
        if isinstance(head := getattr(model, name, None), nn.Module)
    )
    return ArchDescription(
        space=space.name,
        arch=space.format(arch),
        canonical=space.format(space.canonical(arch)),
        input_shape=tuple(shape),
        resolution=space.input_resolution(tuple(shape)),
        classes=classes,
        params=count_parameters(model) - auxiliary,
        auxiliary_params=auxiliary,
        flops=count_flops(model, shape),
        latency_ms=measure_latency_ms(model, shape, repeats=repeats) if latency else None,
        threads=torch.get_num_threads(),
        pictures=space.pictures(arch),
    )
