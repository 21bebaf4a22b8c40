"""`UserSpace`: the `ChoiceSpace` of a class loaded from a spec (`nasforge.space.loading`)."""

from __future__ import annotations

from typing import Any

from torch import nn

from nasforge.space.choices.space import ChoiceSpace


class UserSpace(ChoiceSpace):
    """A `ChoiceSpace` of a class loaded from ``spec``: it pickles as the spec and options
    (a worker process imports the file again), and `space_key` records the spec."""

    def __init__(self, spec: str, model: type[nn.Module], /, **params: Any) -> None:
        self.spec = spec
        super().__init__(model, **params)

    def __reduce__(self) -> tuple[Any, ...]:
        from nasforge.space.loading import rebuild

        options = {"input_shape": self.input_shape, "num_classes": self.num_classes}
        return (rebuild, (self.spec, {**self.params, **options}))
