"""`nasforge resume`: continue a stopped or killed search from its stored trials."""

from __future__ import annotations

from pathlib import Path

from nasforge.cli import search as _search  # noqa: F401 (search before resume in --help)
from nasforge.cli.app import app
from nasforge.cli.common import echo_err, user_errors
from nasforge.cli.options import (
    DEFAULT_STORE,
    JsonOption,
    MovedSpaceOption,
    NameOption,
    StoreOption,
    TrustSpaceCodeOption,
    as_search,
    opt,
)
from nasforge.cli.run_output import run_and_report
from nasforge.cli.settings import with_settings
from nasforge.run.resume_request import ResumeRequest
from nasforge.run.storage import Store

RESUME_OPTIONS = {
    "budget": opt("New total number of evaluations (default: as stored)."),
    "benchmark": opt("Use this benchmark table instead of the stored path."),
    "final_epochs": as_search("Epochs to retrain the winner (0: do not retrain)"),
    "out": as_search("Folder for the retrained winner (it must be empty)"),
    "top": as_search("Rows in the leaderboard"),
    "onnx": as_search(
        "Also write the saved model as MODEL_DIR/model.onnx, checked in onnxruntime (needs "
        "nasforge\\[onnx])",
        "--onnx/--no-onnx",
    ),
    "workers": as_search("Evaluations at once"),
    "executor": as_search("Where trials run: local or ray"),
    "ray_address": as_search("Ray cluster to join, HOST:PORT"),
    "ensemble": as_search("Members of the saved ensemble"),
    "final_data": as_search("What the winner retrains on: all (training + validation) or train"),
    "space": MovedSpaceOption,
    "trust_space_code": TrustSpaceCodeOption,
    "device": as_search("Train the remaining candidates here: auto, cpu, cuda, cuda:N or mps"),
    "precision": as_search("fp32, bf16, fp16 or auto"),
}


@app.command()
@user_errors
@with_settings(ResumeRequest, RESUME_OPTIONS, parameter="request")
def resume(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    request: ResumeRequest = ResumeRequest(),
    as_json: JsonOption = False,
) -> None:
    """Continue a stopped or killed experiment from its stored trials, with the settings
    its search stored (final epochs, output folder, workers...) unless given again.

    An experiment of your own space imports that space's code only with --trust-space-code
    (the recorded file) or --space (a file you name)."""
    from nasforge.run.resume_request import resume_experiment

    with Store.existing(store) as journal:
        named = journal.pick_name(name)
        experiment, finish, top = resume_experiment(journal, named, request, on_line=echo_err)
        run_and_report(experiment, journal, finish, top=top, as_json=as_json)
