"""The proxy evaluator: zero-cost proxy scores as a trial's metrics, rebuilt from its config."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasforge.data.loaders import load_digits_task
from nasforge.data.task import Task
from nasforge.errors import ConfigError
from nasforge.evaluate import Status, make_evaluator
from nasforge.evaluate.proxy import ProxyEvaluator
from nasforge.objective import Objective
from nasforge.proxies import ProxyBatch, ProxyError
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.spec import experiment_from_config
from nasforge.run.storage import Store
from nasforge.space import NB201Space, make_space
from nasforge.strategy import make_strategy

TASK: dict[str, Any] = {"name": "digits", "data": None, "seed": 0, "options": {}}
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space(channels=4, cells_per_stage=1)


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task()


def test_results_hold_one_metric_per_proxy(space: NB201Space, digits: Task) -> None:
    evaluator = ProxyEvaluator(space, ["synflow", "nwot", "params"], task=digits, batch_size=16)
    assert evaluator.default_metric == "synflow"
    assert evaluator.metric_names() == {"synflow", "nwot", "params"}
    assert evaluator.batch.size == 16 and evaluator.batch.input_shape == (1, 8, 8)
    result = evaluator.evaluate(space.parse(CELL))
    assert result.status is Status.OK
    assert set(result.metrics) == {"synflow", "nwot", "params"}
    assert all(math.isfinite(v) for v in result.metrics.values())
    assert result.cost > 0
    assert set(result.info["seconds"]) == {"synflow", "nwot", "params"}
    assert evaluator.evaluate(space.parse(CELL), budget=12.0).metrics == result.metrics


def test_results_are_deterministic_for_a_seed(space: NB201Space, digits: Task) -> None:
    arch = space.parse(CELL)
    proxies = ["synflow", "snip", "jacov"]
    first = ProxyEvaluator(space, proxies, task=digits, batch_size=16, seed=3)
    again = ProxyEvaluator(space, proxies, task=digits, batch_size=16, seed=3)
    other = ProxyEvaluator(space, proxies, task=digits, batch_size=16, seed=4)
    assert first.evaluate(arch).metrics == first.evaluate(arch).metrics
    assert first.evaluate(arch).metrics == again.evaluate(arch).metrics
    assert first.evaluate(arch).metrics != other.evaluate(arch).metrics


def test_rebuilds_from_its_config_through_the_registry(space: NB201Space) -> None:
    evaluator = make_evaluator(
        "proxy", space, proxies=["synflow", "grad_norm"], task=TASK, batch_size=16, seed=2
    )
    assert isinstance(evaluator, ProxyEvaluator)
    config = json.loads(json.dumps(evaluator.config()))  # as an experiment's config stores it
    assert config["task"] == TASK and config["proxies"] == ["synflow", "grad_norm"]
    rebuilt = make_evaluator("proxy", space, **config)
    rng = np.random.default_rng(0)
    for arch in [space.parse(CELL), *(space.sample(rng) for _ in range(3))]:
        assert rebuilt.evaluate(arch).metrics == evaluator.evaluate(arch).metrics


def test_data_free_evaluator_uses_the_space_input_and_rebuilds(space: NB201Space) -> None:
    evaluator = make_evaluator("proxy", space, proxies=["synflow", "zen"])
    assert isinstance(evaluator, ProxyEvaluator)
    assert evaluator.batch.input_shape == (3, 32, 32) and evaluator.batch.num_classes == 10
    assert not evaluator.batch.has_data
    small = make_evaluator("proxy", space, proxies=["synflow"], input_shape=[3, 8, 8])
    assert isinstance(small, ProxyEvaluator) and small.batch.input_shape == (3, 8, 8)
    rebuilt = make_evaluator("proxy", space, **json.loads(json.dumps(small.config())))
    arch = space.parse(CELL)
    assert rebuilt.evaluate(arch).metrics == small.evaluate(arch).metrics


def test_a_proxy_that_needs_data_without_a_task_is_a_proxy_error(space: NB201Space) -> None:
    with pytest.raises(ProxyError, match="proxy jacov needs a mini-batch of data; give a task"):
        make_evaluator("proxy", space, proxies=["synflow", "jacov"])
    with pytest.raises(ProxyError, match="unknown proxy 'synflw'; choose from"):
        make_evaluator("proxy", space, proxies=["synflw"], task=TASK)
    with pytest.raises(ProxyError, match="at least one proxy"):
        ProxyEvaluator(space, [])


def test_a_bare_data_batch_scores_but_cannot_be_stored(space: NB201Space, digits: Task) -> None:
    batch = ProxyBatch.from_arrays(digits.x_train, digits.y_train, digits.num_classes, size=8)
    evaluator = ProxyEvaluator(space, ["jacov"], batch=batch)
    assert math.isfinite(evaluator.evaluate(space.parse(CELL)).metrics["jacov"])
    with pytest.raises(ConfigError, match="cannot be stored or rebuilt"):
        evaluator.config()


def test_a_minus_inf_score_is_an_ok_result_holding_minus_inf(space: NB201Space) -> None:
    """synflow of a network whose output ignores its input: kept as is, and named in info."""
    evaluator = ProxyEvaluator(space, ["synflow", "params"])
    result = evaluator.evaluate(space.parse(ALL_NONE))
    assert result.status is Status.OK
    assert result.metrics["synflow"] == -math.inf and result.metrics["params"] > 0
    assert result.info["non_finite"] == {"synflow": "-inf"}


def test_a_search_with_the_proxy_evaluator_is_stored_and_resumed(
    space: NB201Space, tmp_path: Path
) -> None:
    """Grid order starts with the all-none cell (synflow -inf): an ok trial without a score;
    the store keeps only finite metrics, so its stored metrics lack synflow, its info names it."""
    evaluator = make_evaluator("proxy", space, proxies=["synflow", "params"])
    with Store(tmp_path / "s.sqlite") as store:
        experiment = Experiment(
            space,
            make_strategy("grid", space),
            evaluator,
            budget=Budget(queries=3),
            objective=Objective("synflow"),
            store=store,
            name="zc",
            deduplicate=False,
        )
        experiment.run()
        record = store.experiment("zc")
        assert record.config["evaluator"]["name"] == "proxy"
        first = store.trials(record.id)[0]
        assert first.arch == str(space.parse(ALL_NONE))
        assert first.status is Status.OK and first.score is None
        assert "synflow" not in first.metrics and first.metrics["params"] > 0
        assert first.info["non_finite"] == {"synflow": "-inf"}

        resumed = experiment_from_config(
            record.config, store=store, name="zc", budget=Budget(queries=6)
        )
        assert isinstance(resumed.evaluator, ProxyEvaluator)
        assert resumed.evaluator.config() == evaluator.config()
        result = resumed.run()
    assert result.usage.queries == 6
    fresh = make_space("nb201", **space.config())
    for trial in result.trials:
        metrics = evaluator.evaluate(fresh.parse(trial.arch)).metrics
        assert trial.metrics == {k: v for k, v in metrics.items() if math.isfinite(v)}
