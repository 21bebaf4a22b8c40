"""A resume as ``nasforge resume`` asks for it: a stopped or killed experiment continued
from its stored trials, with the settings its search stored unless given again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.run.experiment import Experiment
    from nasforge.run.search_finish import Finish
    from nasforge.run.storage import Store


@dataclass
class ResumeRequest:
    """What a resume may change; None: as the search stored it. ``space`` and
    ``trust_space_code``: the consent to import a user space's code
    (`nasforge.space.stored.SpaceConsent`)."""

    budget: int | None = None
    benchmark: Path | None = None
    final_epochs: int | None = None
    out: Path | None = None
    top: int | None = None
    onnx: bool | None = None
    workers: int | None = None
    executor: str | None = None
    ray_address: str | None = None
    ensemble: int | None = None
    final_data: str | None = None
    space: str | None = None
    trust_space_code: bool = False
    device: str | None = None
    precision: str | None = None


def resume_experiment(
    journal: Store,
    name: str,
    request: ResumeRequest,
    *,
    on_line: Callable[[str], None] = lambda line: None,
) -> tuple[Experiment, Finish, int]:
    """Experiment `name` of `journal` rebuilt with its executor, the `Finish` of its winner
    and the leaderboard's rows; `on_line` hears that another process runs it too."""
    from nasforge.evaluate.ensemble import check_ensemble
    from nasforge.run.budget import Budget
    from nasforge.run.new_experiment import ExecutorSettings
    from nasforge.run.search_finish import Finish, resolve_final_data
    from nasforge.run.settings import resumed_settings
    from nasforge.run.spec import experiment_from_config
    from nasforge.space.stored import SpaceConsent

    r = request
    record = journal.experiment(name)
    given = {"final_epochs": r.final_epochs, "out": None if r.out is None else str(r.out)}
    given.update(top=r.top, onnx=r.onnx, workers=r.workers, executor=r.executor)
    given.update(ray_address=r.ray_address, ensemble=r.ensemble, final_data=r.final_data)
    settings = resumed_settings(record.config.get("settings"), given)
    if settings["out"] is None:
        settings["out"] = str(Path("models") / record.name)
    if settings["final_epochs"] < 0:
        raise ConfigError(f"--final-epochs must be >= 0, not {settings['final_epochs']}")
    running = ExecutorSettings(
        *(settings[k] for k in ("executor", "workers", "threads", "ray_address", "gpus_per_trial"))
    )
    running.check()
    check_ensemble(settings["ensemble"], settings["ensemble_selection"])
    resolve_final_data(settings["final_data"], settings["ensemble"], settings["ensemble_selection"])
    new_budget = None
    if r.budget is not None:
        new_budget = Budget(**{**record.config["budget"], "queries": r.budget})
    experiment = experiment_from_config(
        record.config,
        store=journal,
        name=record.name,
        budget=new_budget,
        evaluator_overrides={"path": str(r.benchmark)} if r.benchmark is not None else None,
        consent=SpaceConsent(r.space, r.trust_space_code),
        device=r.device,
        precision=r.precision,
    )
    experiment.settings = settings
    if journal.live_runs(record.id):
        on_line(f"joining experiment {record.name!r}, which another process is running")
    experiment.executor = running.make(experiment.evaluator)
    finish = Finish(
        settings["final_epochs"],
        Path(settings["out"]),
        settings["onnx"],
        settings["ensemble"],
        settings["ensemble_selection"],
        settings["final_data"],
    )
    return experiment, finish, settings["top"]
