"""Rebuild an experiment's parts from the config stored with it (what `resume` needs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError, StoreError
from nasforge.evaluate import make_evaluator
from nasforge.objective import Constraint, Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space.stored import SpaceConsent, rebuild_space
from nasforge.strategy import make_strategy


def experiment_from_config(
    config: dict[str, Any],
    *,
    store: Store,
    name: str,
    budget: Budget | None = None,
    evaluator_overrides: dict[str, Any] | None = None,
    consent: SpaceConsent | None = None,
    device: str | None = None,
    precision: str | None = None,
) -> Experiment:
    """The experiment described by `config`, optionally with a new budget or evaluator
    settings, and its candidates trained on another `device` or in another `precision` than
    stored (resolved here: a search stored on a GPU resumes on a machine without one with
    ``device="cpu"``). An experiment of a user's space imports that space's code only with
    `consent` (`nasforge.space.stored.rebuild_space`; else `SpaceConsentError`)."""
    evaluator_overrides = {
        **(evaluator_overrides or {}),
        **_device_overrides(config, device, precision),
    }
    try:
        space_config, strategy_config = config["space"], config["strategy"]
        evaluator_config = config["evaluator"]
        space = rebuild_space(space_config, consent or SpaceConsent(), artifact=Path(store.path))
        strategy = make_strategy(
            strategy_config["name"],
            space,
            seed=int(strategy_config.get("seed", 0)),
            **strategy_config.get("params", {}),
        )
        evaluator_params = {**evaluator_config.get("params", {}), **(evaluator_overrides or {})}
        evaluator = make_evaluator(evaluator_config["name"], space, **evaluator_params)
        objectives = [Objective(**o) for o in objectives_config(config)]
        constraints = [Constraint(**c) for c in config.get("constraints", [])]
        stored_budget = Budget(**config["budget"])
    except (KeyError, TypeError) as exc:
        raise StoreError(
            f"experiment {name!r} has a config this nasforge cannot read: {exc}"
        ) from None
    return Experiment(
        space,
        strategy,
        evaluator,
        budget=budget or stored_budget,
        objective=objectives,
        constraints=constraints,
        store=store,
        name=name,
        deduplicate=config.get("deduplicate", True),
        settings=config.get("settings"),
        ordered=bool(config.get("ordered", True)),
    )


def objectives_config(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored objectives (older configs hold a single ``objective``)."""
    if "objectives" in config:
        return list(config["objectives"])
    return [config.get("objective", {})]


def objectives_of(config: dict[str, Any]) -> list[Objective]:
    return [Objective(**o) for o in objectives_config(config)]


def task_of(config: dict[str, Any]) -> str | None:
    """The task an experiment searched on, from its stored config: a trained or scored
    task's name (``digits``), a benchmark table's dataset (``cifar10-table``), a one-shot
    run's task; None when the config does not say (a config of the Python API's own)."""
    if isinstance(config.get("task"), str):
        return str(config["task"])
    evaluator = config.get("evaluator", {})
    params = evaluator.get("params", {}) if isinstance(evaluator, dict) else {}
    task = params.get("task") if isinstance(params, dict) else None
    if isinstance(task, dict) and task.get("name"):
        return str(task["name"])
    if isinstance(params, dict) and params.get("dataset"):
        return f"{params['dataset']}-table"
    return None


def default_name(config: dict[str, Any]) -> str:
    """TASK-SPACE-STRATEGY-seedN, e.g. ``digits-nb201-evolution-seed0`` (SPACE-STRATEGY-seedN
    when the config names no task)."""
    task = task_of(config)
    strategy = config["strategy"]
    parts = [task, config["space"]["name"], strategy["name"], f"seed{strategy.get('seed', 0)}"]
    return "-".join(str(part) for part in parts if part)


def _device_overrides(
    config: dict[str, Any], device: str | None, precision: str | None
) -> dict[str, Any]:
    """The evaluator's training settings with `device` and `precision` replaced (resolved on
    this machine); none for an evaluator that trains nothing (a table). The stored device is
    checked here too: a search stored on a GPU is refused at once on a machine without one
    (one line naming ``--device``), not trial by trial."""
    from nasforge.device import resolve_settings

    params = config.get("evaluator", {}).get("params", {})
    train = params.get("train") if isinstance(params, dict) else None
    if not isinstance(train, dict):
        if device is not None or precision is not None:
            raise ConfigError("--device and --precision apply to searches that train candidates")
        return {}
    stored_device = str(train.get("device", "auto"))
    stored_precision = str(train.get("precision", "fp32"))
    chosen_device, chosen_precision = resolve_settings(
        device if device is not None else stored_device,
        precision if precision is not None else stored_precision,
    )
    if device is None and precision is None:
        return {}
    return {"train": {**train, "device": chosen_device, "precision": chosen_precision}}
