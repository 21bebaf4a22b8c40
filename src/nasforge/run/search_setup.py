"""The parts of a search from plain settings: its space and evaluator (training, benchmark,
NAS-Bench-301 or a table), its budget, the scheduler's rungs and the checks that refuse a
combination before anything runs. `nasforge search` calls these; so may any Python caller."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.objective import Constraint, Objective
from nasforge.space.base import SearchSpace

DEFAULT_TRAIN_BUDGET = 100
DEFAULT_BENCHMARK_BUDGET = 200
EVALUATORS = ("auto", "train", "benchmark", "nb301")
BUDGET_SCHEDULERS = ("sh", "hyperband", "bohb")
BEFORE_TRAINING = ("params", "flops", "latency_ms_predicted")
"""Metrics a training search knows before a candidate trains: a constraint on one skips it."""
Notes = Callable[[str], None]


@dataclass
class EvaluatorChoice:
    """Which evaluator a search uses: ``evaluator`` as given (auto, train, benchmark, nb301),
    a NAS-Bench-201 ``benchmark`` path (or an HW-GPT-Bench name) and a ``table`` file."""

    evaluator: str = "auto"
    benchmark: Path | None = None
    table: Path | None = None

    def __post_init__(self) -> None:
        if self.evaluator not in EVALUATORS:
            raise ConfigError(
                f"unknown evaluator {self.evaluator!r}; choose from {', '.join(EVALUATORS)}"
            )

    @property
    def on_table(self) -> bool:
        """True for a search of a table's rows (``--table`` or an HW-GPT-Bench benchmark)."""
        from nasforge.evaluate.hwgpt_bench import is_hwgpt

        return self.table is not None or is_hwgpt(self.benchmark)

    @property
    def looks_up(self) -> bool:
        """True when candidates are looked up or predicted, not trained."""
        given = self.evaluator == "auto" and self.benchmark is not None
        return self.evaluator in ("benchmark", "nb301") or given or self.on_table

    def default_budget(self) -> int:
        return DEFAULT_BENCHMARK_BUDGET if self.looks_up else DEFAULT_TRAIN_BUDGET


@dataclass
class TableSettings:
    """A table search's columns: ``decisions`` and ``report`` as COL[,COL...] texts."""

    decisions: str | None = None
    report: str | None = None
    cost_column: str | None = None
    benchmark_dir: Path | None = None


@dataclass
class TrainingSettings:
    """How a training search trains each candidate."""

    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 64
    augment: bool | None = None
    threads: int | None = None
    time_limit: float | None = 120.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    latency_table: Path | None = None
    constraints: list[Constraint] = field(default_factory=list)


def check_search_ensemble(
    k: int, selection: str, *, trains: bool, final_epochs: int, queries: int | None, objectives: int
) -> None:
    """Refuse, before anything runs, an --ensemble the search cannot give."""
    from nasforge.evaluate.ensemble import check_ensemble

    check_ensemble(k, selection)
    if k == 1:
        return
    if not trains:
        raise ConfigError(
            "--ensemble retrains the best architectures: it needs a search that trains "
            "candidates, not a benchmark or a table"
        )
    if final_epochs == 0:
        raise ConfigError("--ensemble retrains the best architectures: give --final-epochs > 0")
    if objectives > 1:
        raise ConfigError("--ensemble needs a single objective to rank architectures by")
    if queries is not None and queries < k:
        raise ConfigError(
            f"--ensemble {k} needs {k} distinct evaluated architectures, but --budget {queries} "
            f"evaluates at most {queries}"
        )


def search_parts(
    choice: EvaluatorChoice,
    *,
    task: TaskOptions,
    space: str | None,
    space_params: dict[str, Any],
    hyperparameters: dict[str, list[Any]],
    goals: list[Objective] | None,
    training: TrainingSettings,
    tables: TableSettings,
    dataset: str = "cifar10",
    fidelity: int | None = None,
    on_note: Notes = lambda line: None,
) -> tuple[SearchSpace, Evaluator, list[Objective] | None]:
    """The space, the evaluator and the objectives (a table may name its own) of a search;
    ``on_note`` hears what the user should know (files left out, a surrogate's caveat)."""
    if training.latency_table is not None and choice.looks_up:
        raise ConfigError("--latency-table is for searches that train candidates, not a table")
    if choice.on_table:
        found, evaluator, goals = table_search(choice, tables, goals, on_note=on_note)
        if space is not None or hyperparameters:
            raise ConfigError("a table search's space is the table's rows: drop --space and --hp")
        return found, evaluator, goals
    if choice.evaluator == "nb301":
        from nasforge.run.table_setup import nb301_parts

        found, surrogate = nb301_parts(
            space or "darts",
            space_params,
            hyperparameters,
            choice.benchmark,
            fidelity=fidelity or 98,
        )
        on_note(surrogate.note)
        return found, surrogate, goals
    if choice.looks_up:
        from nasforge.run.setup import benchmark_evaluator

        where = choice.benchmark
        found, table = benchmark_evaluator(
            space or "nb201",
            space_params,
            hyperparameters,
            str(where) if where is not None else os.environ.get("NASFORGE_NB201"),
            dataset=dataset,
            fidelity=fidelity or 200,
        )
        return found, table, goals
    from nasforge.run.setup import task_training_evaluator

    screen = [c.to_dict() for c in training.constraints if c.metric in BEFORE_TRAINING]
    latency = training.latency_table
    found, trainer = task_training_evaluator(
        task,
        space,
        space_params,
        hyperparameters,
        epochs=training.epochs,
        lr=training.lr,
        batch_size=training.batch_size,
        augment=training.augment,
        threads=training.threads,
        time_limit=training.time_limit,
        seed=training.seed,
        screen=screen,
        latency_table=str(latency.resolve()) if latency else None,
        device=training.device,
        precision=training.precision,
    )
    for note in getattr(getattr(trainer, "task", None), "notes", ()):
        on_note(note)
    return found, trainer, goals


def table_search(
    choice: EvaluatorChoice,
    tables: TableSettings,
    goals: list[Objective] | None,
    *,
    on_note: Notes = lambda line: None,
) -> tuple[SearchSpace, Evaluator, list[Objective]]:
    """The space and evaluator of a table file or an HW-GPT-Bench benchmark."""
    from nasforge.run.table_setup import hwgpt_parts, table_parts

    shown = _columns(tables.report)
    space: Any
    if choice.table is not None:
        if choice.benchmark is not None:
            raise ConfigError("choose --table FILE or --benchmark, not both")
        if not tables.decisions:
            raise ConfigError("--table needs --decisions COL[,COL...]: the decision columns")
        space, evaluator = table_parts(
            choice.table,
            _columns(tables.decisions),
            goals or [],
            report=shown,
            cost_column=tables.cost_column,
        )
    else:
        if tables.decisions:
            raise ConfigError(
                f"--benchmark {choice.benchmark} knows its decision columns: drop --decisions"
            )
        where = tables.benchmark_dir or os.environ.get("NASFORGE_BENCHMARKS")
        space, evaluator, goals = hwgpt_parts(
            str(choice.benchmark), where, goals, report=shown, cost_column=tables.cost_column
        )
    for note in space.data.notes:
        on_note(note)
    return space, evaluator, list(goals or [])


def _columns(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def scheduler_options(
    strategy: str, options: dict[str, Any], choice: EvaluatorChoice, epochs: int
) -> dict[str, Any]:
    """``options`` with the rungs a budget scheduler (sh, hyperband, bohb) can measure, unless
    given: NB201's two schedules, NB301's epochs, or epochs up to the training's."""
    if strategy not in BUDGET_SCHEDULERS or {"budgets", "min_budget", "max_budget"} & set(options):
        return options
    if choice.on_table:
        return options  # a table has no fidelity: the scheduler's default rungs, all one row
    if choice.evaluator == "nb301":
        return {**options, "budgets": (11.0, 33.0, 98.0)}  # epochs, eta = 3
    if choice.looks_up:
        return {**options, "budgets": (12.0, 200.0)}
    return {**options, "min_budget": max(1, epochs // 9), "max_budget": epochs}
