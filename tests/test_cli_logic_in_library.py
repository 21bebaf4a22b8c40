"""What the CLI used to compute itself, reached from Python (issue 30): the evaluator
choice and scheduler rungs of a search, a proxy run's task and sample, and the checks
that refuse settings before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError
from nasforge.proxies.selection import choose_archs
from nasforge.run.proxy_setup import proxy_space_and_batch, proxy_task
from nasforge.run.search_setup import (
    DEFAULT_BENCHMARK_BUDGET,
    DEFAULT_TRAIN_BUDGET,
    EvaluatorChoice,
    TableSettings,
    TrainingSettings,
    check_search_ensemble,
    scheduler_options,
    search_parts,
)
from nasforge.space import make_space


def test_the_evaluator_choice_decides_budget_and_rungs() -> None:
    trained = EvaluatorChoice()
    assert not trained.looks_up and trained.default_budget() == DEFAULT_TRAIN_BUDGET
    table = EvaluatorChoice(benchmark=Path("nb201.csv"))
    assert table.looks_up and table.default_budget() == DEFAULT_BENCHMARK_BUDGET
    assert scheduler_options("hyperband", {}, trained, 18) == {"min_budget": 2, "max_budget": 18}
    assert scheduler_options("sh", {}, table, 18) == {"budgets": (12.0, 200.0)}
    nb301 = EvaluatorChoice("nb301")
    assert scheduler_options("bohb", {}, nb301, 5) == {"budgets": (11.0, 33.0, 98.0)}
    given = {"budgets": (1.0, 2.0)}
    assert scheduler_options("sh", given, trained, 18) is given
    assert scheduler_options("evolution", {}, trained, 18) == {}


def test_bad_search_settings_are_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown evaluator 'x'; choose from auto, train"):
        EvaluatorChoice("x")
    with pytest.raises(ConfigError, match="give --final-epochs > 0"):
        check_search_ensemble(3, "top", trains=True, final_epochs=0, queries=10, objectives=1)
    with pytest.raises(ConfigError, match="--ensemble 3 needs 3 distinct"):
        check_search_ensemble(3, "top", trains=True, final_epochs=2, queries=2, objectives=1)
    with pytest.raises(ConfigError, match="not a table"):
        search_parts(
            EvaluatorChoice(benchmark=Path("nb201.csv")),
            task=TaskOptions(),
            space=None,
            space_params={},
            hyperparameters={},
            goals=None,
            training=TrainingSettings(latency_table=Path("lat.json")),
            tables=TableSettings(),
        )


def test_search_parts_give_a_training_evaluator_on_the_task() -> None:
    space, evaluator, goals = search_parts(
        EvaluatorChoice(),
        task=TaskOptions("digits"),
        space="mlp",
        space_params={},
        hyperparameters={},
        goals=None,
        training=TrainingSettings(epochs=2),
        tables=TableSettings(),
    )
    assert space.name == "mlp" and goals is None
    assert evaluator.task_spec == TaskOptions("digits").spec()


def test_a_proxy_run_needs_a_task_for_data_and_labels(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--data needs --task"):
        proxy_task(None, tmp_path, "y")
    with pytest.raises(ConfigError, match=r"^--label-column needs --task csv$"):
        proxy_task(None, None, "y")
    assert proxy_task(None, None, None) is None
    space, batch, spec = proxy_space_and_batch(
        None, {}, proxy_task("digits", None, None), batch_size=8, seed=0
    )
    assert batch.size == 8 and spec == TaskOptions("digits").spec()
    assert space.name == "nb201"


def test_the_sample_is_distinct_seeded_and_capped_by_the_space() -> None:
    space = make_space("nb201")
    first = choose_archs(space, 20, False, seed=3)
    assert first == choose_archs(space, 20, False, seed=3)
    assert len({str(arch) for arch in first}) == 20
    assert len(choose_archs(make_space("mlp"), 10**6, False, seed=0)) == make_space("mlp").size()
