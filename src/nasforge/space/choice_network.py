"""`ChoiceNetworkSpace`: a registered space whose network is one constructor written with the
choice primitives (`nasforge.space.choices`), for its children and its supernet alike.

The space lists its decisions without torch (so that `nasforge.space` imports fast); the
network class, named by `network_class`, asks the same decisions by label. `build` runs
the constructor with the arch's answers; `supernet` is the `ChoiceSuperNet` of the
constructor (`choice_space`), checked once to ask exactly the decisions the space lists.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from nasforge.arch import Arch
from nasforge.errors import SpaceError
from nasforge.space.base import SearchSpace

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace
    from nasforge.space.choices.supernet import ChoiceSuperNet


class ChoiceNetworkSpace(SearchSpace):
    """A space built by one choice-primitive constructor (see the module docstring)."""

    trace_input_shape: tuple[int, ...] = (3, 32, 32)
    """The input the constructor is traced with to find its decisions."""
    _choice_space: ChoiceSpace | None = None

    @abstractmethod
    def network_class(self) -> type[nn.Module]:
        """The constructor: ``cls(choices, input_shape, num_classes, **self.config())``."""

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10
    ) -> nn.Module:
        from nasforge.space.choices.primitives import fixed_choices

        self.check_input(input_shape)
        answers = dict(self.validate(arch))
        return self.network_class()(
            fixed_choices(answers), input_shape, num_classes, **self.config()
        )

    def supernet(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        *,
        affine: bool = False,
        track_running_stats: bool = True,
        partial_channels: int = 1,
    ) -> ChoiceSuperNet:
        """The `ChoiceSuperNet` of the network: module choices hold every candidate, value
        choices the largest value, whose leading weights smaller values share."""
        if partial_channels != 1:
            raise SpaceError(
                f"space {self.name!r} has no partial channels (PC-DARTS): its candidate ops "
                "do not keep their channels"
            )
        self.check_input(input_shape)
        return self.choice_space().supernet(
            input_shape, num_classes, affine=affine, track_running_stats=track_running_stats
        )

    def choice_space(self) -> ChoiceSpace:
        """The network as a `ChoiceSpace` with the same decisions (built once)."""
        if self._choice_space is None:
            from nasforge.space.choices.space import ChoiceSpace

            space = ChoiceSpace(
                self.network_class(), input_shape=self.trace_input_shape, **self.config()
            )
            asked = {d.label: d.choices for d in space.decisions}
            if asked != {d.label: d.choices for d in self.decisions}:
                raise SpaceError(
                    f"the {self.name} network asks other decisions than its space lists"
                )
            self._choice_space = space
        return self._choice_space
