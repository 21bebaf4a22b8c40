"""A multilayer perceptron space for tables and other flat inputs.

Any input is flattened first; then ``depth`` hidden layers, each
``Linear -> norm -> activation -> dropout``, and a linear head. Decisions::

    depth=2,width_0=64,width_1=128,width_2=32,width_3=32,activation=relu,dropout=0.1,norm=batch

Layers at or beyond ``depth`` are inactive: `canonical` sets their widths to the first
choice, so that archs building the same network compare equal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.arch import Arch
from nasforge.errors import SpaceError
from nasforge.space.base import Decision, SearchSpace

if TYPE_CHECKING:
    from torch import nn

ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "silu", "tanh")
NORMS: tuple[str, ...] = ("none", "batch", "layer")


class MLPSpace(SearchSpace):
    """Depth, per-layer width, activation, dropout and normalization of an MLP."""

    name = "mlp"

    def __init__(
        self,
        max_layers: int = 4,
        widths: Sequence[int] = (32, 64, 128, 256),
        activations: Sequence[str] = ACTIVATIONS,
        dropouts: Sequence[float] = (0.0, 0.1, 0.3),
        norms: Sequence[str] = NORMS,
    ) -> None:
        if max_layers < 1:
            raise SpaceError(f"mlp needs max_layers >= 1, not {max_layers}")
        if not widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths
        ):
            raise SpaceError(f"mlp widths must be positive integers, not {list(widths)}")
        _check_names("activations", activations, ACTIVATIONS)
        _check_names("norms", norms, NORMS)
        if not dropouts or any(not 0.0 <= float(p) < 1.0 for p in dropouts):
            raise SpaceError(f"mlp dropouts must lie in [0, 1), not {list(dropouts)}")
        self.max_layers = max_layers
        self.widths = tuple(widths)
        self.activations = tuple(activations)
        self.dropouts = tuple(float(p) for p in dropouts)
        self.norms = tuple(norms)
        self._decisions = (
            Decision("depth", tuple(range(1, max_layers + 1))),
            *(Decision(f"width_{i}", self.widths) for i in range(max_layers)),
            Decision("activation", self.activations),
            Decision("dropout", self.dropouts),
            Decision("norm", self.norms),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "max_layers": self.max_layers,
            "widths": list(self.widths),
            "activations": list(self.activations),
            "dropouts": list(self.dropouts),
            "norms": list(self.norms),
        }

    def canonical(self, arch: Arch) -> Arch:
        """Inactive layers (at or beyond ``depth``) get the first width choice."""
        arch = self.validate(arch)
        depth = int(arch["depth"])
        inactive = {f"width_{i}": self.widths[0] for i in range(depth, self.max_layers)}
        return arch.replace(**inactive)

    def hidden_widths(self, arch: Arch) -> tuple[int, ...]:
        """The widths of the active hidden layers, first to last."""
        arch = self.validate(arch)
        return tuple(int(arch[f"width_{i}"]) for i in range(int(arch["depth"])))

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        """Flatten, ``depth`` x [Linear, norm, activation, dropout], Linear head.

        ``norm=none`` and ``dropout=0.0`` add no module.
        """
        from torch import nn

        self.check_input(input_shape)
        arch = self.validate(arch)
        activation = str(arch["activation"])
        dropout = float(arch["dropout"])
        norm = str(arch["norm"])
        layers: list[nn.Module] = [nn.Flatten()]
        features = math.prod(input_shape)
        for width in self.hidden_widths(arch):
            layers.append(nn.Linear(features, width))
            if norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif norm == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(_activation(activation))
            if dropout > 0.0:
                layers.append(nn.Dropout(dropout))
            features = width
        layers.append(nn.Linear(features, num_classes))
        return nn.Sequential(*layers)

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) == 0 or any(size < 1 for size in input_shape):
            raise SpaceError(
                f"space 'mlp' needs an input shape of positive sizes, not input shape "
                f"{tuple(input_shape)}"
            )


def _activation(name: str) -> nn.Module:
    from torch import nn

    modules: dict[str, type[nn.Module]] = {
        "relu": nn.ReLU,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
    }
    return modules[name]()


def _check_names(what: str, given: Sequence[str], known: tuple[str, ...]) -> None:
    unknown = [name for name in given if name not in known]
    if not given or unknown:
        raise SpaceError(
            f"mlp {what} must be a non-empty list from {', '.join(known)}, not {list(given)}"
        )
