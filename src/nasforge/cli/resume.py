"""`nasforge resume`: continue a stopped or killed search from its stored trials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli import search as _search  # noqa: F401 (search before resume in --help)
from nasforge.cli.app import app
from nasforge.cli.common import (
    echo_err,
    open_existing,
    pick_name,
    user_errors,
)
from nasforge.cli.options import (
    DEFAULT_STORE,
    JsonOption,
    MovedSpaceOption,
    NameOption,
    StoreOption,
    TrustSpaceCodeOption,
)
from nasforge.cli.run_output import run_and_report
from nasforge.errors import ConfigError
from nasforge.run.search_finish import Finish


@app.command()
@user_errors
def resume(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    budget: Annotated[
        int | None, typer.Option(help="New total number of evaluations (default: as stored).")
    ] = None,
    benchmark: Annotated[
        Path | None, typer.Option(help="Use this benchmark table instead of the stored path.")
    ] = None,
    final_epochs: Annotated[
        int | None,
        typer.Option(
            help="Epochs to retrain the winner (0: do not retrain; default: as the search).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the retrained winner (default: as the search; it must be empty).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option(help="Rows in the leaderboard (default: as the search).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    onnx: Annotated[
        bool | None,
        typer.Option(
            "--onnx/--no-onnx",
            help="Also write the saved model as MODEL_DIR/model.onnx, checked in onnxruntime "
            "(needs nasforge\\[onnx]; default: as the search).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Evaluations at once (default: as the search).", show_default=False),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            help="Where trials run: local or ray (default: as the search).", show_default=False
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join, HOST:PORT (default: as the search).", show_default=False
        ),
    ] = None,
    ensemble: Annotated[
        int | None,
        typer.Option(
            help="Members of the saved ensemble (default: as the search).", show_default=False
        ),
    ] = None,
    space: MovedSpaceOption = None,
    trust_space_code: TrustSpaceCodeOption = False,
    device: Annotated[
        str | None,
        typer.Option(
            help="Train the remaining candidates here: auto, cpu, cuda, cuda:N or mps "
            "(default: as the search).",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(help="fp32, bf16, fp16 or auto (default: as the search).", show_default=False),
    ] = None,
) -> None:
    """Continue a stopped or killed experiment from its stored trials, with the settings
    its search stored (final epochs, output folder, workers...) unless given again.

    An experiment of your own space imports that space's code only with --trust-space-code
    (the recorded file) or --space (a file you name)."""
    from nasforge.evaluate.ensemble import check_ensemble
    from nasforge.run.budget import Budget
    from nasforge.run.new_experiment import ExecutorSettings
    from nasforge.run.settings import resumed_settings
    from nasforge.run.spec import experiment_from_config
    from nasforge.space.stored import SpaceConsent

    with open_existing(store) as journal:
        record = journal.experiment(pick_name(journal, name))
        given = {"final_epochs": final_epochs, "out": None if out is None else str(out)}
        given.update(top=top, onnx=onnx, workers=workers, executor=executor)
        given.update(ray_address=ray_address, ensemble=ensemble)
        settings = resumed_settings(record.config.get("settings"), given)
        if settings["out"] is None:
            settings["out"] = str(Path("models") / record.name)
        if settings["final_epochs"] < 0:
            raise ConfigError(f"--final-epochs must be >= 0, not {settings['final_epochs']}")
        running = ExecutorSettings(
            settings["executor"],
            settings["workers"],
            settings["threads"],
            settings["ray_address"],
            settings["gpus_per_trial"],
        )
        running.check()
        check_ensemble(settings["ensemble"], settings["ensemble_selection"])
        new_budget = None
        if budget is not None:
            new_budget = Budget(**{**record.config["budget"], "queries": budget})
        experiment = experiment_from_config(
            record.config,
            store=journal,
            name=record.name,
            budget=new_budget,
            evaluator_overrides={"path": str(benchmark)} if benchmark is not None else None,
            consent=SpaceConsent(space, trust_space_code),
            device=device,
            precision=precision,
        )
        experiment.settings = settings
        if journal.live_runs(record.id):
            echo_err(f"joining experiment {record.name!r}, which another process is running")
        experiment.executor = running.make(experiment.evaluator)
        finish = Finish(
            settings["final_epochs"],
            Path(settings["out"]),
            settings["onnx"],
            settings["ensemble"],
            settings["ensemble_selection"],
        )
        run_and_report(experiment, journal, finish, top=settings["top"], as_json=as_json)
