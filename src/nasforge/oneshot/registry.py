"""The one-shot methods by name, and building one from a name and options (CLI, configs)."""

from __future__ import annotations

import inspect
from typing import Any

from nasforge.oneshot.beta_darts import BetaDARTS
from nasforge.oneshot.darts import DARTS, DARTS2
from nasforge.oneshot.enas import ENAS
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.gdas import GDAS
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.pc_darts import PCDARTS
from nasforge.oneshot.spos import SPOS
from nasforge.space.base import SearchSpace

METHODS: dict[str, type[OneShotMethod]] = {
    method.name: method for method in (DARTS, DARTS2, GDAS, ENAS, SPOS, BetaDARTS, PCDARTS)
}
"""The methods by the name users pick them by (CLI, config files)."""


def _keyword_defaults(name: str) -> dict[str, Any]:
    """Keyword options of method ``name``'s constructor and its bases, with defaults."""
    defaults: dict[str, Any] = {}
    for cls in reversed(METHODS[name].__mro__):
        if isinstance(cls, type) and issubclass(cls, OneShotMethod):
            for key, spec in inspect.signature(cls.__init__).parameters.items():
                if spec.kind is inspect.Parameter.KEYWORD_ONLY:
                    defaults[key] = spec.default
    return defaults


def method_options(name: str) -> list[str]:
    """The keyword options method ``name``'s constructor accepts, its bases' included."""
    return sorted(_keyword_defaults(name))


def _check_type(key: str, value: Any, default: Any) -> None:
    """A number option needs a number, an integer one an integer, a flag true or false."""
    if isinstance(default, bool):
        wanted, ok = "true or false", isinstance(value, bool)
    elif isinstance(default, int):
        wanted, ok = "an integer", isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        wanted = "a number"
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        return
    if not ok:
        raise OneShotError(f"method option {key} must be {wanted}, not {value!r}")


def make_method(name: str, space: SearchSpace, **options: Any) -> OneShotMethod:
    """Build a registered method by name; unknown names, options and option types are
    clear errors."""
    if name not in METHODS:
        raise OneShotError(f"unknown one-shot method {name!r}; choose from {', '.join(METHODS)}")
    defaults = _keyword_defaults(name)
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise OneShotError(
            f"method {name!r} has no option {', '.join(unknown)}; its options: "
            f"{', '.join(sorted(defaults))}"
        )
    for key, value in options.items():
        _check_type(key, value, defaults[key])
    return METHODS[name](space, **options)
