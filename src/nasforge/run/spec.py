"""Rebuild an experiment's parts from the config stored with it (what `resume` needs)."""

from __future__ import annotations

from typing import Any

from nasforge.errors import StoreError
from nasforge.evaluate import make_evaluator
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.objective import Constraint, Objective
from nasforge.run.storage import Store
from nasforge.space import make_space
from nasforge.strategy import make_strategy


def experiment_from_config(
    config: dict[str, Any],
    *,
    store: Store,
    name: str,
    budget: Budget | None = None,
    evaluator_overrides: dict[str, Any] | None = None,
) -> Experiment:
    """The experiment described by `config`, optionally with a new budget or evaluator settings."""
    try:
        space_config, strategy_config = config["space"], config["strategy"]
        evaluator_config = config["evaluator"]
        space = make_space(space_config["name"], **space_config.get("params", {}))
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
        ordered=bool(config.get("ordered", True)),
    )


def objectives_config(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored objectives (older configs hold a single ``objective``)."""
    if "objectives" in config:
        return list(config["objectives"])
    return [config.get("objective", {})]


def objectives_of(config: dict[str, Any]) -> list[Objective]:
    return [Objective(**o) for o in objectives_config(config)]
