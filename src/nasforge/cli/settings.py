"""Options declared once, as the fields of a library dataclass: `with_settings` gives a
command one option per field (typed and defaulted as the field, with the help the command
names) in place of one parameter, and hands the command the dataclass they make.

This is how `nasforge search` takes `nasforge.run.search_request.SearchRequest`, so that the
command line and the Python API share one list of settings with one set of defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
KEYWORD = inspect.Parameter.KEYWORD_ONLY


class Parsed(NamedTuple):
    """A field the command line gives in words: its option (an ``Annotated`` type) and the
    function that turns the words into the field's value."""

    option: Any
    parse: Callable[[Any], Any]


def replace_parameter(
    parameter: str, added: list[inspect.Parameter], build: Callable[[dict[str, Any]], Any]
) -> Callable[[F], F]:
    """Put the `added` parameters in the place of the command's `parameter` (so they keep
    their position in ``--help``); the command receives ``build(their values)`` there."""
    names = [p.name for p in added]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        params = list(signature.parameters.values())
        at = [p.name for p in params].index(parameter)
        own = [p.replace(kind=KEYWORD) for p in params]
        clash = {p.name for p in own} & set(names)
        assert not clash, f"{command.__name__}: {clash} declared twice"
        new = signature.replace(parameters=[*own[:at], *added, *own[at + 1 :]])

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            return command(**kwargs, **{parameter: build(given)})

        wrapper.__signature__ = new  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in new.parameters.values()}
        return wrapper  # type: ignore[return-value]

    return decorate


def with_settings(kind: type, options: dict[str, Any], *, parameter: str) -> Callable[[F], F]:
    """Give a command the fields of dataclass `kind` named in `options`, in their order, in
    place of its `parameter`, which receives the `kind` they make (other fields keep their
    defaults). A field's option is a Typer option (typed and defaulted as the field), an
    ``Annotated`` option type of `nasforge.cli.options` (typed by it) or a `Parsed`."""
    hints = typing.get_type_hints(kind)
    fields = [f for f in dataclasses.fields(kind) if f.name in options]
    assert len(fields) == len(options), set(options) - {f.name for f in fields}
    added, parsers = [], {}
    for f in fields:
        given, default = options[f.name], f.default
        if isinstance(given, Parsed):
            assert typing.get_origin(given.option) is Annotated, f"{f.name}: give its type"
            given, parsers[f.name], default = given.option, given.parse, None
        elif callable(f.default_factory):
            default = f.default_factory()
        if typing.get_origin(given) is not Annotated:
            given = Annotated[hints[f.name], given]
        added.append(inspect.Parameter(f.name, KEYWORD, default=default, annotation=given))

    def build(values: dict[str, Any]) -> Any:
        return kind(**{k: parsers[k](v) if k in parsers else v for k, v in values.items()})

    return replace_parameter(parameter, added, build)
