"""`report_content`: everything the HTML report shows of one stored experiment, as data.

Read once from the store (the dashboard reads it again when the store changes); the HTML
is made from it by `nasforge.report.html`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nasforge.analysis import Explanation, Importance, TooFewTrials, explain, trials_of
from nasforge.arch import Arch
from nasforge.errors import NasforgeError
from nasforge.run.results import SearchResult
from nasforge.run.spec import objectives_of
from nasforge.run.storage import ExperimentRecord, Store, TrialRecord
from nasforge.space.base import SearchSpace
from nasforge.space.stored import read_space
from nasforge.status import Status

IMPORTANCE_SEED = 0


@dataclass(frozen=True)
class Progress:
    """Best score so far after each evaluated trial, by trial order and by time."""

    metric: str
    direction: str
    queries: list[int]
    seconds: list[float]
    """Evaluation seconds spent when the trial finished: the sum of the costs of the trials
    so far (the time the budget counts; simulated training time for a tabular benchmark)."""
    best: list[float]
    values: list[float]


@dataclass(frozen=True)
class ReportContent:
    store: str
    experiment: ExperimentRecord
    space: SearchSpace | None
    space_error: str | None
    result: SearchResult
    progress: Progress | None
    importance: Importance | None
    explanation: Explanation | None
    analysis_note: str | None
    """Why there is no importance section (too few trials, ...)."""

    @property
    def name(self) -> str:
        return self.experiment.name

    @property
    def config(self) -> dict[str, Any]:
        return self.experiment.config

    @property
    def oneshot(self) -> dict[str, Any] | None:
        """The diagnostics of a one-shot run (`nasforge oneshot --name`), if this is one."""
        recorded = self.config.get("oneshot")
        return recorded if isinstance(recorded, dict) else None

    @property
    def final(self) -> dict[str, Any] | None:
        """The retrained winner (test accuracy, epochs, folder; a baseline's test accuracy
        when there is one), recorded when the final retraining finished; None before."""
        recorded = self.config.get("final")
        return recorded if isinstance(recorded, dict) else None

    @property
    def finished_trials(self) -> int:
        return sum(1 for t in self.result.trials if t.finished)

    def arch_text(self, trial: TrialRecord) -> str:
        if self.space is None:
            return trial.arch
        try:
            return self.space.format(Arch.parse(trial.arch))
        except NasforgeError:
            return trial.arch

    def curves(self) -> list[tuple[TrialRecord, list[float]]]:
        """Trials with a learning curve (validation accuracy per epoch), in trial order."""
        return [
            (t, [float(v) for v in t.info["valid_accuracy"]])
            for t in self.result.trials
            if t.evaluated and isinstance(t.info.get("valid_accuracy"), list)
        ]


def report_content(store: Store, name: str, *, analyse: bool = True) -> ReportContent:
    """What the report of experiment `name` in `store` shows. `analyse=False` leaves out
    decision importance and the explanation (a random forest fit: about 2 s on NB201)."""
    record = store.experiment(name)
    trials = store.trials(record.id)
    objectives = objectives_of(record.config)
    result = SearchResult.from_trials(record.name, trials, record.wall_seconds, objectives)
    space: SearchSpace | None = None
    space_error = None
    try:
        space = read_space(record.config["space"])
    except (KeyError, TypeError, NasforgeError) as exc:
        space_error = f"cannot rebuild the space of this experiment: {exc}"
    importance = explanation = None
    note: str | None = "decision importance needs the experiment's space" if space is None else None
    if analyse and space is not None and not result.multi_objective:
        importance, explanation, note = _analysis(store, name)
    elif result.multi_objective:
        note = "decision importance is computed for one objective: run nasforge importance"
    return ReportContent(
        store=store.path,
        experiment=record,
        space=space,
        space_error=space_error,
        result=result,
        progress=_progress(result),
        importance=importance,
        explanation=explanation,
        analysis_note=note,
    )


def _analysis(store: Store, name: str) -> tuple[Importance | None, Explanation | None, str | None]:
    from nasforge.analysis import decision_importance

    try:
        scored = trials_of(store, name)
        importance = decision_importance(
            scored.space,
            scored.archs,
            scored.values,
            metric=scored.metric,
            direction=scored.direction,
            seed=IMPORTANCE_SEED,
        )
        winner = scored.best()
        explanation = explain(
            scored.space,
            scored.archs,
            scored.values,
            scored.archs[winner],
            numbers=[t.number for t in scored.trials],
            metric=scored.metric,
            direction=scored.direction,
            seed=IMPORTANCE_SEED,
        )
    except TooFewTrials as exc:
        return None, None, str(exc)
    except NasforgeError as exc:
        return None, None, f"no decision importance: {exc}"
    return importance, explanation, None


def _progress(result: SearchResult) -> Progress | None:
    objective = result.objectives[0]
    sign = -1.0 if objective.direction == "min" else 1.0
    done = [
        t
        for t in result.trials
        if t.evaluated
        and t.status is Status.OK
        and math.isfinite(t.metrics.get(objective.metric, math.nan))
    ]
    if not done:
        return None
    done.sort(key=lambda t: t.finished_seq if t.finished_seq is not None else t.number)
    best, spent = -math.inf, 0.0
    queries, seconds, bests, values = [], [], [], []
    for index, trial in enumerate(done, start=1):
        value = trial.metrics[objective.metric]
        best = max(best, sign * value)
        spent += trial.cost
        queries.append(index)
        seconds.append(spent)
        bests.append(sign * best)
        values.append(value)
    return Progress(objective.metric, objective.direction, queries, seconds, bests, values)
