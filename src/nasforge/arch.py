"""`Arch`: the immutable, hashable value that names one architecture.

An Arch is an ordered mapping from decision label to the choice made for it. Its text
form round-trips exactly::

    >>> arch = Arch({"depth": 3, "op": "conv3x3", "lr": 0.01})
    >>> str(arch)
    'depth=3,op=conv3x3,lr=0.01'
    >>> Arch.parse(str(arch)) == arch
    True

Choices are strings, integers, floats or booleans. In the text form a string is written
bare unless it would read back as something else (a number, a boolean, or text holding
``,``, ``=``, quotes or spaces); then it is written as a JSON string.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from nasforge.errors import ArchError

Choice = str | int | float | bool

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")
_BARE_STRING = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-+~|]*")


class Arch(Mapping[str, Choice]):
    """An immutable, ordered mapping ``label -> choice`` with value semantics."""

    __slots__ = ("_hash", "_items")

    _items: tuple[tuple[str, Choice], ...]
    _hash: int

    def __init__(self, choices: Mapping[str, Choice] | None = None) -> None:
        items = tuple((label, _plain(label, choice)) for label, choice in (choices or {}).items())
        for label, _ in items:
            _check_label(label)
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_hash", hash(tuple((k, _typed(v)) for k, v in items)))

    # -- Mapping -----------------------------------------------------------------
    def __getitem__(self, label: str) -> Choice:
        for key, value in self._items:
            if key == label:
                return value
        raise KeyError(label)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    # -- value semantics ---------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Arch):
            return NotImplemented
        mine = tuple((k, _typed(v)) for k, v in self._items)
        theirs = tuple((k, _typed(v)) for k, v in other._items)
        return mine == theirs

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Arch is immutable; use Arch.replace(...) for a changed copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Arch is immutable")

    def __repr__(self) -> str:
        return f"Arch({str(self)!r})"

    def __str__(self) -> str:
        return ",".join(f"{label}={_format_choice(choice)}" for label, choice in self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Arch, (dict(self._items),))

    # -- construction ------------------------------------------------------------
    def replace(self, **changes: Choice) -> Arch:
        """A copy with some choices changed; labels keep their order."""
        unknown = set(changes) - set(self)
        if unknown:
            raise ArchError(f"cannot replace unknown decision(s): {', '.join(sorted(unknown))}")
        return Arch({label: changes.get(label, choice) for label, choice in self._items})

    @classmethod
    def parse(cls, text: str) -> Arch:
        """Read the text form written by ``str(arch)``."""
        text = text.strip()
        if not text:
            return cls({})
        choices: dict[str, Choice] = {}
        for part in _split_top_level(text):
            label, sep, raw = part.partition("=")
            label = label.strip()
            if not sep or not label:
                raise ArchError(f"malformed arch text {text!r}: expected label=choice,...")
            if label in choices:
                raise ArchError(f"malformed arch text {text!r}: decision {label!r} appears twice")
            choices[label] = _parse_choice(raw.strip(), text)
        return cls(choices)

    def to_json(self) -> str:
        return json.dumps(dict(self._items))

    @classmethod
    def from_json(cls, text: str) -> Arch:
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise ArchError(f"arch JSON is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ArchError("arch JSON must be an object of label: choice")
        return cls(data)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ArchError(f"arch JSON names decision(s) twice: {', '.join(repeated)}")
    return dict(pairs)


def _typed(value: Choice) -> tuple[str, Choice]:
    """Keep 1, 1.0 and True apart for equality and hashing."""
    return (type(value).__name__, value)


def _check_label(label: object) -> None:
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise ArchError(
            f"invalid decision label {label!r}: use letters, digits and _ . : / - "
            "starting with a letter or _"
        )


def _plain(label: str, choice: object) -> Choice:
    """The choice as an exact str, int, float or bool (numpy scalars are unwrapped)."""
    item = getattr(choice, "item", None)
    if callable(item) and not isinstance(choice, (str, int, float, bool)):
        choice = item()
    plain: Choice
    if isinstance(choice, bool):
        plain = bool(choice)
    elif isinstance(choice, int):
        plain = int(choice)
    elif isinstance(choice, float):
        plain = float(choice)
        if not math.isfinite(plain):
            raise ArchError(f"choice for {label!r} must be finite, not {plain}")
    elif isinstance(choice, str):
        plain = str(choice)
    else:
        raise ArchError(
            f"choice for {label!r} must be a string, integer, float or boolean, "
            f"not {type(choice).__name__}"
        )
    return plain


def _format_choice(choice: Choice) -> str:
    if isinstance(choice, bool):
        return "true" if choice else "false"
    if isinstance(choice, (int, float)):
        return repr(choice)
    if (
        _BARE_STRING.fullmatch(choice)
        and choice not in ("true", "false")
        and not _is_number(choice)
    ):
        return choice
    return json.dumps(choice)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_choice(raw: str, whole: str) -> Choice:
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ArchError(f"malformed arch text {whole!r}: bad quoted choice {raw!r}") from None
        if not isinstance(value, str):
            raise ArchError(f"malformed arch text {whole!r}: bad quoted choice {raw!r}")
        return value
    if raw == "true":
        return True
    if raw == "false":
        return False
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        pass
    if not _BARE_STRING.fullmatch(raw):
        raise ArchError(f"malformed arch text {whole!r}: bad choice {raw!r}")
    return raw


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside a JSON-quoted string."""
    parts: list[str] = []
    current: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            current.append(char)
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if in_string:
        raise ArchError(f"malformed arch text {text!r}: unterminated quoted choice")
    parts.append("".join(current))
    return parts
