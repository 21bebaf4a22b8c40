"""What follows a search's trials: its summary, its baseline, and its winner (or the
ensemble of its best) retrained, saved and optionally exported to ONNX."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError

Lines = Callable[[str], None]

FINAL_DATA = ("all", "train")
"""What the winner is retrained on: ``all`` the training data (the training and validation
splits; the default, as DARTS trains its final network) or the ``train`` split alone (the
validation split stays held out, as forward ensemble selection needs)."""


def resolve_final_data(final_data: str | None, ensemble: int, selection: str) -> str:
    """`final_data` checked (ConfigError naming the choices, or for ``all`` with forward
    ensemble selection), or its default when None: ``train`` for forward ensemble selection
    (it chooses on held-out validation predictions), else ``all``."""
    forward = ensemble > 1 and selection == "forward"
    if final_data is None:
        return "train" if forward else "all"
    if final_data not in FINAL_DATA:
        raise ConfigError(
            f"unknown --final-data {final_data!r}; choose from {', '.join(FINAL_DATA)}"
        )
    if forward and final_data == "all":
        from nasforge.evaluate.ensemble import FORWARD_NEEDS_HELD_OUT

        raise ConfigError(FORWARD_NEEDS_HELD_OUT)
    return final_data


@dataclass(frozen=True)
class Finish:
    """What to do with the winner: retrain it ``final_epochs`` (0: not) into ``out``, as an
    ensemble of ``ensemble`` members chosen by ``ensemble_selection``, with ``onnx``, on
    ``final_data`` (`FINAL_DATA`; None: by the selection, `resolve_final_data`)."""

    final_epochs: int = 0
    out: Path | None = None
    onnx: bool = False
    ensemble: int = 1
    ensemble_selection: str = "top"
    final_data: str | None = None

    @property
    def with_validation(self) -> bool:
        """Whether the final training takes the validation split too (``final_data`` all)."""
        resolved = resolve_final_data(self.final_data, self.ensemble, self.ensemble_selection)
        return resolved == "all"

    def retrains(self, experiment: Any) -> bool:
        """True when the winner is retrained: a training search with epochs and a folder;
        refuses (before the search runs) what the winner cannot be given."""
        from nasforge.evaluate.training import TrainingEvaluator

        retrains = self.final_epochs > 0 and self.out is not None
        retrains = retrains and isinstance(experiment.evaluator, TrainingEvaluator)
        if self.onnx and not retrains:
            raise ConfigError(
                "--onnx exports the retrained winner: it needs a training search with "
                "--final-epochs > 0"
            )
        if self.onnx:
            from nasforge.export.onnx import require_onnx

            require_onnx()
        out = self.out
        if retrains and out is not None and out.exists() and any(out.iterdir()):
            raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
        if retrains:
            from nasforge.evaluate.ensemble import check_selection_fits

            check_selection_fits(
                experiment.evaluator,
                self.ensemble,
                self.ensemble_selection,
                with_validation=self.with_validation,
            )
        return retrains


def validation_groups(evaluator: Any) -> tuple[str, ...]:
    """The groups a training search validates on (none without groups)."""
    from nasforge.evaluate.training import TrainingEvaluator

    if not isinstance(evaluator, TrainingEvaluator):
        return ()
    return evaluator.task.valid_groups


def groups_line(task: Any) -> str:
    """One line on the unseen groups a search validates on."""
    shown = ", ".join(task.valid_groups)
    return (
        f"validating on unseen groups: {shown} ({len(task.y_valid)} examples; no candidate "
        "trains on them, the retrained winner does)"
    )


def search_summary(experiment: Any, result: Any, store: str | Path) -> dict[str, Any]:
    """A finished run as a JSON-ready dict: the result, the store, the groups validated on,
    the columns a table search reports and the evaluator's note."""
    payload = {"store": str(store), **result.to_dict(experiment.space)}
    valid_groups = validation_groups(experiment.evaluator)
    if valid_groups:
        payload["valid_groups"] = list(valid_groups)
    shown: tuple[str, ...] = getattr(experiment.evaluator, "report_columns", ())
    if shown:
        payload["report"] = list(shown)
    note = getattr(experiment.evaluator, "note", None)
    if note:
        payload["note"] = note
    return payload


def finish_search(
    experiment: Any,
    result: Any,
    payload: dict[str, Any],
    finish: Finish,
    *,
    retrains: bool,
    on_line: Lines = lambda line: None,
    on_note: Lines = lambda line: None,
) -> dict[str, Any]:
    """``payload`` (`search_summary`) with the baseline and the retrained winner ("final",
    also recorded in the store) and its ONNX export; ``on_line`` hears the retraining's
    progress, ``on_note`` why the winner is not retrained here."""
    single = result.best is not None and not result.multi_objective
    if retrains and experiment.others_running():
        retrains = False
        on_note(
            "other processes still run this experiment: the last one to finish retrains the winner"
        )
    if retrains and finish.ensemble > 1 and single:
        from nasforge.evaluate.ensemble import check_ensemble

        available = len(result.distinct_ranked(experiment.space))
        check_ensemble(finish.ensemble, finish.ensemble_selection, available=available)
    if single:
        from nasforge.evaluate.baselines import search_baseline

        baseline = search_baseline(
            experiment.evaluator, with_validation=retrains and finish.with_validation
        )
        if baseline is not None:
            payload["baseline"] = baseline
    if not (retrains and finish.out is not None and single):
        return payload
    from nasforge.run.final_model import retrain_and_save, retrain_ensemble_and_save

    if finish.ensemble > 1:
        payload["final"] = retrain_ensemble_and_save(
            experiment,
            result,
            finish.ensemble,
            finish.ensemble_selection,
            finish.final_epochs,
            finish.out,
            with_validation=finish.with_validation,
            on_line=on_line,
        )
    else:
        arch = Arch.parse(result.best.arch)
        payload["final"] = retrain_and_save(
            experiment,
            arch,
            finish.final_epochs,
            finish.out,
            with_validation=finish.with_validation,
            on_start=on_line,
        )
    if payload["final"] and payload.get("baseline"):
        from nasforge.evaluate.baselines import with_baseline

        payload["final"] = with_baseline(payload["final"], payload["baseline"])
    if payload["final"]:
        experiment.record_final({**payload["final"], "trial": result.best.number})
    if finish.onnx and payload["final"]:
        from nasforge.export.onnx import export_beside

        model_dir = payload["final"]["model_dir"]
        payload["onnx"] = export_beside(model_dir, trust_space_code=True).to_dict()
    return payload


def failure_line(result: Any) -> str | None:
    """One line when a search evaluated trials and not one of them succeeded (every candidate
    failed or diverged: nothing to retrain, save or report as best), naming the first error;
    None otherwise. The CLI ends such a search with exit code 1."""
    from nasforge.status import Status

    evaluated = [t for t in result.trials if t.evaluated]
    if not evaluated or any(t.status is Status.OK for t in evaluated):
        return None
    first = next((t for t in evaluated if t.error), evaluated[0])
    reason = first.error or first.status.value
    return (
        f"every one of the {len(evaluated)} trials failed, so there is no best architecture; "
        f"trial {first.number}: {reason}"
    )
