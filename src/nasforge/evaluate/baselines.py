"""The field's standard simple model for a task, fit beside every search to say whether the
searched network is worth its cost.

- text: tf-idf of word 1-2 grams with a linear SVM (scikit-learn's ``LinearSVC``); the words
  are the task's own tokens (its token ids, so exactly what the networks see);
- audio: log-mel statistics (mean and standard deviation of each mel band over time, from
  the task's own log-mel features), standardized, with logistic regression;
- tables: scikit-learn's ``HistGradientBoostingClassifier``.

Each is fit on the task's training split alone (the split the search's candidates train
on) and scored on its validation split; its test accuracy is that model's too, or, when the
search's winner retrains on the training and validation splits together (``--final-data
all``, the default), that of the same model refit on those same examples, so that both
test lines learned from the same data. Other tasks (images, plain sequences)
have none here: `baseline_kind` is None for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.data.task import Task

BASELINES = {
    "text": "tf-idf word 1-2 grams + linear SVM",
    "audio": "log-mel mean/std + logistic regression",
    "table": "histogram gradient boosting",
}


@dataclass(frozen=True)
class BaselineResult:
    """A baseline's accuracies (%) on the task's validation and test splits."""

    kind: str
    valid_accuracy: float
    test_accuracy: float
    seconds: float
    model: Any = field(default=None, compare=False, repr=False)
    """The scikit-learn model fit on the training split (its inputs: `baseline_inputs`)."""
    test_model: Any = field(default=None, compare=False, repr=False)
    """The model the test accuracy is of: `model`, or refit on training + validation."""
    test_fit: str = "train"
    """What the test model was fit on: ``train`` or ``train+valid``."""

    @property
    def name(self) -> str:
        return BASELINES[self.kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON, with the model's name as ``arch`` (as the store and report show it)."""
        return {
            "arch": self.name,
            "kind": self.kind,
            "valid_accuracy": self.valid_accuracy,
            "test_accuracy": self.test_accuracy,
            "test_fit": self.test_fit,
            "seconds": round(self.seconds, 3),
        }


def baseline_kind(task: Task) -> str | None:
    """``text``, ``audio`` or ``table`` for the tasks that have a baseline, else None."""
    kind = (task.preprocessing or {}).get("kind")
    if kind in ("text", "audio"):
        return str(kind)
    return "table" if len(task.input_shape) == 1 else None


def make_baseline(kind: str, seed: int = 0) -> Any:
    """The unfitted scikit-learn model of a kind (its inputs: `baseline_inputs`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        words = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=False)
        return make_pipeline(words, LinearSVC(C=1.0, random_state=seed))
    if kind == "audio":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    if kind == "table":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    raise ValueError(f"no baseline of kind {kind!r}; kinds: {', '.join(BASELINES)}")


def baseline_inputs(kind: str, x: npt.NDArray[np.float32]) -> Any:
    """What the baseline of a kind reads from a task's inputs ``x``: texts of token ids
    (``"12 7 301"``, padding dropped), the per-band mean and std of log-mels, or the table."""
    if kind == "text":
        return [" ".join(str(int(i)) for i in row if i != 0) for row in x]
    if kind == "audio":
        bands = x.reshape(len(x), -1, x.shape[-1])  # (N, n_mels, frames), images too
        return np.concatenate([bands.mean(axis=2), bands.std(axis=2)], axis=1)
    return x


def fit_baseline(
    task: Task, *, seed: int = 0, with_validation: bool = False
) -> BaselineResult | None:
    """Fit the task's baseline on its training split and score it on validation; score on
    test that model, or (`with_validation`) the same model refit on the training and
    validation splits together (`Task.for_final_training`). None for a task without one
    (`baseline_kind`)."""
    kind = baseline_kind(task)
    if kind is None:
        return None
    started = time.perf_counter()

    def fitted(on: Task) -> Any:
        model = make_baseline(kind, seed)
        return model.fit(baseline_inputs(kind, np.asarray(on.x_train)), on.y_train)

    def accuracy(model: Any, x: npt.ArrayLike, y: npt.NDArray[np.int64]) -> float:
        if not len(y):
            return 0.0
        inputs = baseline_inputs(kind, np.asarray(x, np.float32))
        return 100.0 * float(np.mean(model.predict(inputs) == y))

    model = fitted(task)
    refit = with_validation and bool(len(task.y_valid))
    test_model = fitted(task.for_final_training()) if refit else model
    return BaselineResult(
        kind,
        accuracy(model, task.x_valid, task.y_valid),
        accuracy(test_model, task.x_test, task.y_test),
        time.perf_counter() - started,
        model,
        test_model,
        "train+valid" if refit else "train",
    )


def losing_line(
    winner_test_accuracy: float, baseline: dict[str, Any], what: str = "the retrained winner"
) -> str | None:
    """One line when the retrained winner (or `what`) scores below the baseline on test,
    else None."""
    if winner_test_accuracy >= float(baseline["test_accuracy"]):
        return None
    return (
        f"{what} ({winner_test_accuracy:.2f}%) loses to the baseline "
        f"{baseline['arch']} ({float(baseline['test_accuracy']):.2f}%) on test"
    )


def search_baseline(evaluator: object, *, with_validation: bool) -> dict[str, Any] | None:
    """The baseline of a training search (`fit_baseline` on its evaluator's task, with its
    seed; `with_validation`: its test line refit on the data the winner retrains on) as
    JSON; None for other evaluators and for tasks without a baseline."""
    from nasforge.evaluate.training import TrainingEvaluator

    if not isinstance(evaluator, TrainingEvaluator):
        return None
    fitted = fit_baseline(evaluator.task, seed=evaluator.seed, with_validation=with_validation)
    return None if fitted is None else fitted.to_dict()


def with_baseline(final: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """What retraining the winner measured (``test_accuracy``...) with the baseline beside
    it, and ``loses_to_baseline`` (`losing_line`) when the winner loses on test."""
    what = "the retrained ensemble" if final.get("members") else "the retrained winner"
    losing = losing_line(float(final["test_accuracy"]), baseline, what)
    return {**final, "baseline": baseline, **({"loses_to_baseline": losing} if losing else {})}
