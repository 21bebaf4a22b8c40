"""The space a store or a model folder records: written with its description, read without
running code, rebuilt only with consent.

A store or a saved model is made to be shared, so opening one runs no code it names unless
the user says so for that call (Hugging Face's ``trust_remote_code``):

- `read_space` serves everything that only reads (report, dashboard, status, best,
  importance, explain, transfer): a built-in space by its registered name, a user's space
  from the description recorded with it (`nasforge.space.recorded`), never by importing.
- `rebuild_space` serves what builds networks (predict, load_model, export, resume): a
  built-in space as always; a user's space only with consent, either a spec the user gives
  (``--space PATH.py:CLASS``, imported as any ``--space``) or ``--trust-space-code``
  (``trust_space_code=True``), which imports exactly the recorded file and says so on
  stderr. A relative path in the artifact is resolved against the artifact's folder, never
  the current directory.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError, SpaceError
from nasforge.space.base import SearchSpace
from nasforge.space.loading import is_file_target, is_imported, is_spec

RECORD_KEY = "recorded"
"""The key of a stored space config that holds its description (`describe_space`)."""

CONSENT_HINT = (
    "pass --trust-space-code to import the recorded file (Python: trust_space_code=True), "
    "or --space PATH.py:CLASS to name the file yourself"
)


class SpaceConsentError(ConfigError):
    """An artifact names code to import and the user has not allowed it."""


@dataclass(frozen=True)
class SpaceConsent:
    """What the user allowed for one call: a spec of their own (`space`, used in place of
    the recorded one), or importing the recorded one (`trust`)."""

    space: str | None = None
    trust: bool = False


def space_config(space: SearchSpace) -> dict[str, Any]:
    """What a store or a model folder records of `space`: the name `make_space` rebuilds it
    from and its options; for a user's space (a spec) also its description
    (`describe_space`), so that reading the record never needs the space's code."""
    from nasforge.space.loading import space_key
    from nasforge.space.recorded import describe_space

    config: dict[str, Any] = {"name": space_key(space), "params": space.config()}
    if is_spec(config["name"]):
        config[RECORD_KEY] = describe_space(_inner(space))
    return config


def space_identity(space_config: Mapping[str, Any]) -> dict[str, Any]:
    """What must match for two records to be of the same space: a built-in's name and
    options; a user's space by its class name and options (not by where its file is, so a
    resumed run may name the file where it is now; the recorded description is left out, so
    a store written before descriptions were recorded resumes too)."""
    name = space_config.get("name")
    if isinstance(name, str) and is_spec(name):
        name = "user:" + name.rpartition(":")[2]
    return {"name": name, "params": space_config.get("params", {})}


def names_code(space_config: Mapping[str, Any]) -> bool:
    """Whether a stored space config names code (a user's space) rather than a built-in."""
    name = space_config.get("name")
    return isinstance(name, str) and is_spec(name)


def read_space(space_config: Mapping[str, Any]) -> SearchSpace:
    """The space of a stored config for reading, importing nothing: a built-in by name, a
    user's space from its recorded description (`RecordedSpace`). A `SpaceError` says when
    a user's space was stored without one (by an older nasforge)."""
    from nasforge.space import make_space
    from nasforge.space.hyperparams import WithHyperparameters
    from nasforge.space.recorded import RecordedSpace

    name, params = _name_and_params(space_config)
    if not is_spec(name):
        return make_space(name, **params)
    description = space_config.get(RECORD_KEY)
    if not isinstance(description, Mapping):
        raise SpaceError(
            f"space {name!r} is your own code and this store holds no description of its "
            "decisions (it was written by an older nasforge); reading it would import that "
            "code, which nasforge does not do when it only reads"
        )
    recorded = RecordedSpace.from_description(description, spec=name)
    hyperparameters = params.get("hyperparameters")
    if hyperparameters:
        return WithHyperparameters.from_config(recorded, hyperparameters)
    return recorded


def rebuild_space(
    space_config: Mapping[str, Any], consent: SpaceConsent, *, artifact: Path
) -> SearchSpace:
    """The space of a stored config that builds networks. A user's space needs `consent`
    (else `SpaceConsentError` names the file and the two ways to allow it); `artifact` is
    the store file or model folder, against whose folder a relative path is resolved."""
    from nasforge.space import make_space

    name, params = _name_and_params(space_config)
    if consent.space is not None:
        if not is_spec(consent.space):
            raise ConfigError(
                f"--space {consent.space!r} must name your space's file or module and class: "
                "path/to/file.py:ClassName or package.module:ClassName"
            )
        return make_space(consent.space, **params)
    if not is_spec(name):
        return make_space(name, **params)
    spec = resolve_recorded(name, artifact)
    if not consent.trust:
        raise SpaceConsentError(
            f"{artifact} was made from your own space {spec}, and rebuilding its network "
            f"imports that code: {CONSENT_HINT}"
        )
    file = _spec_file(spec)
    if file is not None and not file.is_file():
        raise ConfigError(
            f"--trust-space-code: the space file recorded in {artifact}, {file}, does not "
            "exist; name it where it is now with --space PATH.py:CLASS"
        )
    if not is_imported(spec):
        print(
            f"nasforge: importing {file or spec}, the space code {artifact} records "
            "(--trust-space-code)",
            file=sys.stderr,
        )
    return make_space(spec, **params)


def resolve_recorded(spec: str, artifact: Path) -> str:
    """A recorded spec with a relative file path made absolute against the folder of
    `artifact` (a model folder itself, or the folder holding a store file)."""
    target, _, class_name = spec.rpartition(":")
    if not is_file_target(target):
        return spec
    path = Path(target).expanduser()
    if not path.is_absolute():
        base = artifact if artifact.is_dir() else artifact.parent
        path = base / path
    return f"{path.resolve()}:{class_name}"


def _spec_file(spec: str) -> Path | None:
    target, _, _ = spec.rpartition(":")
    return Path(target) if is_file_target(target) else None


def _inner(space: SearchSpace) -> SearchSpace:
    from nasforge.space.hyperparams import WithHyperparameters

    return space.space if isinstance(space, WithHyperparameters) else space


def _name_and_params(space_config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        name = space_config["name"]
        params = dict(space_config.get("params") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise SpaceError(f"the stored space config lacks {exc}") from None
    if not isinstance(name, str):
        raise SpaceError(f"the stored space name {name!r} is not a string")
    return name, params
