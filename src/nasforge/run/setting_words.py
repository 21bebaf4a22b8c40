"""Settings given in words, as the command line takes them: KEY=VALUE options of a space,
a strategy or a method, hyperparameters to search, an input shape, scaling coefficients.
A wrong word is a one-line `ConfigError` that shows how to write it."""

from __future__ import annotations

import json
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError


def parse_options(pairs: list[str], what: str = "strategy option") -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE in brackets is a JSON list (``kernels=[3,5]``)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r} must read KEY=VALUE")
        text = value.strip()
        if text.startswith("["):
            try:
                options[key.strip()] = json.loads(text)
            except ValueError:
                raise ConfigError(
                    f"{what} {pair!r}: {text!r} is not a list (write it as JSON: [3,5])"
                ) from None
            continue
        options[key.strip()] = Arch.parse(f"x={text}")["x"]
    return options


def parse_hyperparameters(pairs: list[str]) -> dict[str, list[Any]]:
    """``lr=0.01,0.1`` -> {"lr": [0.01, 0.1]}."""
    searched: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--hp {pair!r} must read NAME=VALUE,VALUE,...")
        searched[key.strip()] = [
            Arch.parse(f"x={value.strip()}")["x"] for value in values.split(",")
        ]
    return searched


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``3,224,224`` as ``(3, 224, 224)``; anything else is a one-line error."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(size < 1 for size in shape):
        raise ConfigError(
            f"--input-shape {text!r} is not a shape: give positive sizes separated by commas, "
            "e.g. 3,32,32"
        )
    return shape


def parse_coefficients(text: str) -> tuple[float, float, float]:
    """``1.2,1.1,1.15`` as (alpha, beta, gamma), each >= 1."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1.0:
        raise ConfigError(
            f"--coefficients takes alpha,beta,gamma, each >= 1 (e.g. 1.2,1.1,1.15), not {text!r}"
        )
    return values[0], values[1], values[2]
