"""Transfer between tasks: start a search from a finished experiment on another task.

``search --warm-start-from STORE:NAME`` reads experiment NAME of the store file STORE, which
must have searched the same space (same name and options), and hands the new search two
things (see `nasforge.strategy.warm_start.WarmStart`):

- its best `top` distinct archs (by canonical form), proposed first and evaluated on the new
  task: they count as queries of the new search;
- all its evaluated archs with their scores standardized within it (`PriorTrial.z`: the
  tasks' metrics differ in scale, their standardized ranks much less), which inform the
  strategy's model without being queries (`Strategy.learn_prior`).

Scores are the source experiment's first objective, turned so that higher is better; an arch
evaluated several times there (isomorphic cells, say) counts once with its mean score. The
new experiment's strategy config records the source, the seeds and the prior, so resume
needs neither the source store nor its experiment any more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.errors import ConfigError, StoreError
from nasforge.run.scored_trials import trials_of
from nasforge.run.storage import Store
from nasforge.space.base import SearchSpace
from nasforge.space.loading import space_key
from nasforge.strategy.warm_start import WarmStart


@dataclass(frozen=True)
class TransferSource:
    """What a finished experiment hands a search on another task."""

    source: str
    """``STORE:NAME`` with the store's absolute path, as recorded in the new experiment."""
    seeds: list[str]
    """Its best distinct archs, best first."""
    prior: list[tuple[str, float]]
    """Every distinct evaluated arch and its standardized score (higher is better)."""


def parse_source(text: str) -> tuple[Path, str]:
    """``STORE:NAME`` split at its last colon."""
    store, colon, name = text.rpartition(":")
    if not colon or not store or not name:
        raise ConfigError(
            f"--warm-start-from takes STORE:NAME (a store file and an experiment in it), "
            f"not {text!r}"
        )
    return Path(store), name


def load_transfer_source(text: str, space: SearchSpace, *, top: int = 10) -> TransferSource:
    """The seeds and prior that experiment ``STORE:NAME`` gives a search of `space`."""
    if top < 1:
        raise ConfigError(f"the warm start needs top >= 1 seeds, not {top}")
    path, name = parse_source(text)
    if not path.is_file():
        raise StoreError(f"--warm-start-from: no store file {str(path)!r}")
    with Store(path, read_only=True) as store:
        record = store.get_experiment(name)
        if record is None:
            known = ", ".join(e.name for e in store.experiments()) or "none"
            raise StoreError(
                f"--warm-start-from: no experiment {name!r} in {path} (its experiments: {known})"
            )
        _check_same_space(record.config.get("space"), space, name)
        scored = trials_of(store, name)
    sign = -1.0 if scored.direction == "min" else 1.0
    by_key: dict[Any, list[float]] = {}
    first: dict[Any, str] = {}
    for arch, value in zip(scored.archs, scored.values, strict=True):
        key = space.canonical(arch)
        by_key.setdefault(key, []).append(sign * float(value))
        first.setdefault(key, space.format(arch))
    means = np.array([np.mean(values) for values in by_key.values()])
    z = (means - means.mean()) / means.std() if means.std() > 0 else np.zeros_like(means)
    texts = list(first.values())
    order = np.argsort(-z, kind="stable")
    return TransferSource(
        source=f"{path.resolve()}:{name}",
        seeds=[texts[i] for i in order[:top]],
        prior=[(texts[i], float(z[i])) for i in order],
    )


def transfer_strategy(
    strategy: str,
    options: dict[str, Any],
    space: SearchSpace,
    source: TransferSource,
    *,
    seed: int,
) -> WarmStart:
    """Strategy `strategy` (with `options`) warm-started from `source`."""
    if strategy == WarmStart.name:
        raise ConfigError(
            "--warm-start-from wraps the strategy given with --strategy; choose that one, "
            "not warm-start itself"
        )
    return WarmStart(
        space,
        seed=seed,
        inner=strategy,
        inner_params=options,
        seeds=source.seeds,
        prior=source.prior,
        source=source.source,
    )


def _check_same_space(stored: Any, space: SearchSpace, name: str) -> None:
    wanted = {"name": space_key(space), "params": space.config()}
    if isinstance(stored, dict) and _json(stored) == _json(wanted):
        return
    stored = stored if isinstance(stored, dict) else {}
    if stored.get("name") != wanted["name"]:
        difference = f"space {stored.get('name')!r}, not {wanted['name']!r}"
    else:
        there, here = stored.get("params") or {}, json.loads(_json(wanted["params"]))
        keys = sorted(k for k in {*there, *here} if _json(there.get(k)) != _json(here.get(k)))
        difference = f"space {wanted['name']!r} with other options: " + ", ".join(
            f"{key}={there.get(key)} there, {here.get(key)} here" for key in keys
        )
    raise ConfigError(
        f"--warm-start-from: experiment {name!r} searched {difference}; "
        "transfer needs the same space"
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
