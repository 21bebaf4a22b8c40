"""User spaces named by a spec: ``path/to/file.py:ClassName`` or ``package.module:ClassName``.

A spec names the class of a space the user wrote: an ``nn.Module`` class whose constructor
asks for its choices (see `nasforge.space.choices`; it becomes a `ChoiceSpace`), or a
`SearchSpace` subclass (built with the options given). `make_space` takes a spec wherever it
takes the name of a built-in space, so ``--space`` of the CLI takes one too.

Loading a spec imports the user's code (its top-level statements run, as with any import;
an ``if __name__ == "__main__":`` block does not): the file or module named on the command
line (or given to `make_space`), or the one an experiment or a saved model folder recorded
when it was made from such a spec (`space_key`). A file path is recorded resolved to an
absolute path; a folder saved from a user space imports that file again when loaded, and
nothing else from the folder runs code (its weights are safetensors).

A file is imported once per process (a second spec naming it gets the same classes) as a
module of its own that is not on ``sys.path``: it imports other files of the user through an
installed package, not as siblings. A space loaded from a spec pickles as its spec and
options, so worker processes import the file themselves.
"""

from __future__ import annotations

import copyreg
import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from nasforge.errors import SpaceError
from nasforge.space.base import SearchSpace
from nasforge.space.hyperparams import WithHyperparameters
from nasforge.space.moved import current_module

# torch is imported when a space is loaded, not with this module (the CLI's --help stays fast)

_MODULE_PREFIX = "nasforge_user_space_"
_KNOWN_REDUCERS: set[type] = set()


def is_spec(name: str) -> bool:
    """Whether ``name`` is a spec (``FILE.py:Class`` or ``module:Class``), not a registered name."""
    return ":" in name


def resolve_spec(spec: str) -> str:
    """``spec`` with a file path made absolute (what a record keeps); a module spec as is."""
    target, class_name = _split(spec)
    if _is_file(target):
        return f"{Path(target).expanduser().resolve()}:{class_name}"
    return f"{target}:{class_name}"


def spec_file(spec: str) -> Path | None:
    """The file a spec names (absolute), or None for a module spec."""
    target, _ = _split(spec)
    return Path(target).expanduser().resolve() if _is_file(target) else None


def load_class(spec: str) -> type:
    """The class a spec names, importing its file or module (a `SpaceError` names what is
    missing: the file, the module or the class)."""
    from torch import nn

    target, class_name = _split(spec)
    module = _import_file(Path(target), spec) if _is_file(target) else _import_module(target, spec)
    where = getattr(module, "__file__", None) or target
    found = getattr(module, class_name, None)
    if found is None:
        classes = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and value.__module__ == module.__name__
        )
        listed = f" (classes there: {', '.join(classes)})" if classes else " (it defines no class)"
        raise SpaceError(f"space {spec!r}: {where} has no class {class_name!r}{listed}")
    if not inspect.isclass(found) or not issubclass(found, (nn.Module, SearchSpace)):
        raise SpaceError(
            f"space {spec!r}: {class_name!r} in {where} is not a space: write an nn.Module class "
            "whose __init__ takes choices (see docs/spaces.md), or a SearchSpace subclass"
        )
    return found


def load_space(spec: str, **params: Any) -> SearchSpace:
    """The space of the class ``spec`` names, built with ``params``: an ``nn.Module`` class
    becomes ``ChoiceSpace(cls, **params)`` (a `UserSpace`), a `SearchSpace` subclass
    ``cls(**params)``."""
    from torch import nn

    from nasforge.space.choices.user_space import UserSpace

    resolved = resolve_spec(spec)
    cls = load_class(spec)
    if issubclass(cls, SearchSpace) and not issubclass(cls, nn.Module):
        try:
            space = cls(**params)
        except TypeError as exc:
            raise SpaceError(f"bad options for space {spec!r}: {exc}") from None
        space.spec = resolved  # type: ignore[attr-defined]
        if cls not in _KNOWN_REDUCERS:
            copyreg.pickle(cls, _reduce_search_space)
            _KNOWN_REDUCERS.add(cls)
        return space
    assert issubclass(cls, nn.Module)  # load_class returns spaces and modules only
    try:
        inspect.signature(cls).bind_partial(None, **_without_shape(params))
    except TypeError as exc:
        raise SpaceError(f"bad options for space {spec!r}: {exc}") from None
    return UserSpace(resolved, cls, **params)


def space_key(space: SearchSpace) -> str:
    """The name ``make_space`` rebuilds ``space`` from (with ``space.config()``): a registered
    name, the spec of a space loaded from one, or ``module:Class`` for a `ChoiceSpace` of an
    importable class (else its name, which rebuilds nothing)."""
    inner = space.space if isinstance(space, WithHyperparameters) else space
    spec = getattr(inner, "spec", None)
    if isinstance(spec, str):
        return spec
    choice_space = sys.modules.get("nasforge.space.choices.space")  # no torch import here
    if choice_space is not None and isinstance(inner, choice_space.ChoiceSpace):
        model = inner.model
        module = sys.modules.get(model.__module__)
        importable = module is not None and model.__module__ not in ("__main__", "builtins")
        importable = importable and not model.__module__.startswith(_MODULE_PREFIX)
        if importable and "<locals>" not in model.__qualname__ and "." not in model.__qualname__:
            return f"{model.__module__}:{model.__qualname__}"
    return space.name


def is_imported(spec: str) -> bool:
    """Whether the file or module ``spec`` names is imported in this process already (loading
    it again runs no code)."""
    target, _ = _split(spec)
    if not _is_file(target):
        return current_module(target) in sys.modules
    file = Path(target).expanduser().resolve()
    return _module_name(file) in sys.modules


# -- internals ------------------------------------------------------------------------------


def _split(spec: str) -> tuple[str, str]:
    target, sep, class_name = spec.rpartition(":")
    if not sep or not target.strip() or not class_name.strip():
        raise SpaceError(
            f"space {spec!r} must read path/to/file.py:ClassName or package.module:ClassName"
        )
    if not class_name.isidentifier():
        raise SpaceError(f"space {spec!r}: {class_name!r} is not a class name")
    return target.strip(), class_name.strip()


def is_file_target(target: str) -> bool:
    """Whether the part of a spec before the class names a file (else a module)."""
    return target.endswith(".py") or "/" in target or "\\" in target


_is_file = is_file_target


def _import_file(path: Path, spec: str) -> ModuleType:
    file = path.expanduser().resolve()
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        raise SpaceError(f"space {spec!r}: the file {file} {what}")
    name = _module_name(file)
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, file)
    if module_spec is None or module_spec.loader is None:
        raise SpaceError(f"space {spec!r}: cannot import {file} as Python")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look a class's module up here
    try:
        module_spec.loader.exec_module(module)
    except SystemExit:
        del sys.modules[name]
        raise SpaceError(
            f"space {spec!r}: importing {file} exits the program; put script code under "
            'if __name__ == "__main__":'
        ) from None
    except BaseException as exc:
        del sys.modules[name]
        if not isinstance(exc, Exception):
            raise
        raise SpaceError(f"space {spec!r}: importing {file} failed: {_one_line(exc)}") from exc
    return module


def _module_name(file: Path) -> str:
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:12]
    return f"{_MODULE_PREFIX}{_identifier(file.stem)}_{digest}"


def _import_module(target: str, spec: str) -> ModuleType:
    if not all(part.isidentifier() for part in target.split(".")):
        raise SpaceError(
            f"space {spec!r}: {target!r} is neither a .py file nor a module name like pkg.module"
        )
    try:
        return importlib.import_module(current_module(target))
    except ModuleNotFoundError as exc:
        if exc.name is not None and target.startswith(exc.name):
            raise SpaceError(
                f"space {spec!r}: no module named {exc.name!r} (a file needs its .py suffix)"
            ) from None
        raise SpaceError(f"space {spec!r}: importing {target} failed: {_one_line(exc)}") from exc
    except Exception as exc:
        raise SpaceError(f"space {spec!r}: importing {target} failed: {_one_line(exc)}") from exc


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _without_shape(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("input_shape", "num_classes")}


def rebuild(spec: str, params: dict[str, Any]) -> SearchSpace:
    """``load_space(spec, **params)``: what a pickled space loaded from a spec unpickles as."""
    return load_space(spec, **params)


def _reduce_search_space(space: SearchSpace) -> tuple[Any, ...]:
    return (rebuild, (space.spec, space.config()))  # type: ignore[attr-defined]
