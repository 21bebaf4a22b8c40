"""Search spaces, and the registry the CLI picks them from by name."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from nasforge.errors import SpaceError
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.darts.space import DartsSpace
from nasforge.space.hyperparams import HPChoices, WithHyperparameters, hyperparameters_of
from nasforge.space.loading import is_spec, load_space, space_key
from nasforge.space.mobilenet.space import MobileNetSpace
from nasforge.space.nb201.space import NB201Space
from nasforge.space.sequence.conv1d import Conv1DSpace
from nasforge.space.table.mlp import MLPSpace
from nasforge.space.table.space import TableSpace
from nasforge.space.text.ngrams import NgramsSpace
from nasforge.space.text.textconv import TextConvSpace
from nasforge.space.text.transformer import TransformerSpace

SPACES: dict[str, type[SearchSpace]] = {
    space.name: space
    for space in (
        NB201Space,
        MLPSpace,
        Conv1DSpace,
        DartsSpace,
        MobileNetSpace,
        TextConvSpace,
        TransformerSpace,
        NgramsSpace,
        TableSpace,
    )
}


def make_space(
    name: str, hyperparameters: Mapping[str, HPChoices] | None = None, **params: Any
) -> SearchSpace:
    """Build a registered space by name, or a user's space by spec (``path/to/file.py:Class``
    or ``package.module:Class``: `nasforge.space.loading`, which imports that code); an
    unknown name is a clear error.

    ``hyperparameters={"lr": [0.01, 0.1], ...}`` adds them as decisions (`WithHyperparameters`);
    the config of the result holds them too, so ``make_space(name, **space.config())``
    rebuilds it.
    """
    if is_spec(name):
        space = load_space(name, **params)
        if hyperparameters:
            return WithHyperparameters.from_config(space, hyperparameters)
        return space
    try:
        cls = SPACES[name]
    except KeyError:
        raise SpaceError(
            f"unknown search space {name!r}; choose from {', '.join(SPACES)}, or name your "
            "own: path/to/file.py:ClassName or package.module:ClassName"
        ) from None
    check_space_options(name, cls, params)
    try:
        space = cls(**params)
    except TypeError as exc:
        raise SpaceError(f"bad options for space {name!r}: {exc}") from None
    if hyperparameters:
        return WithHyperparameters.from_config(space, hyperparameters)
    return space


def check_space_options(name: str, cls: type[SearchSpace], params: Mapping[str, Any]) -> None:
    """Raise SpaceError naming the options of space `name` when `params` has others."""
    signature = inspect.signature(cls.__init__)
    kinds = {spec.kind for spec in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    accepted = {
        p
        for p, spec in signature.parameters.items()
        if p not in ("self", "hyperparameters")
        and spec.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    unknown = sorted(set(params) - accepted)
    if unknown:
        options = ", ".join(sorted(accepted)) or "none"
        raise SpaceError(
            f"space {name!r} has no option {', '.join(unknown)}; its options: {options}"
        )


def make_space_for_arch(
    name: str, arch_text: str, hyperparameters: Mapping[str, HPChoices] | None = None, **params: Any
) -> SearchSpace:
    """`make_space`, with the options a published architecture named by `arch_text` needs
    (`with_named_options`)."""
    return make_space(name, hyperparameters, **with_named_options(name, arch_text, params))


def with_named_options(name: str, arch_text: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params`, plus the options the published architecture `arch_text` of space `name`
    needs (``efficientnet-b3`` on ``mobilenet``: its width, depth and resolution) where
    `params` gives none; an option given is kept (the name then fails to parse with a
    message naming the options it needs)."""
    if is_spec(name) or name not in SPACES:
        return dict(params)
    needed = make_space(name, **params).named_space_options(arch_text.strip()) or {}
    return {**{k: v for k, v in needed.items() if k not in params}, **params}


def spaces_fitting(input_shape: tuple[int, ...]) -> list[str]:
    """Names of the registered spaces whose default configuration accepts `input_shape`."""
    fitting = []
    for name, cls in SPACES.items():
        if not getattr(cls, "builds_networks", True):  # a table's rows: nothing to build
            continue
        try:
            cls().check_input(input_shape)
        except SpaceError:
            continue
        fitting.append(name)
    return fitting


__all__ = [
    "SPACES",
    "Conv1DSpace",
    "Decision",
    "MLPSpace",
    "MobileNetSpace",
    "NB201Space",
    "NgramsSpace",
    "SearchSpace",
    "TableSpace",
    "TextConvSpace",
    "TransformerSpace",
    "WithHyperparameters",
    "hyperparameters_of",
    "is_spec",
    "load_space",
    "make_space",
    "make_space_for_arch",
    "space_key",
    "spaces_fitting",
    "with_named_options",
]
