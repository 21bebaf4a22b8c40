"""`nasforge train` and `nasforge predict`: one architecture trained, saved and used."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nasforge.cli import resume as _resume  # noqa: F401 (search and resume before train in --help)
from nasforge.cli.app import app
from nasforge.cli.common import echo_note, print_payload, user_errors
from nasforge.cli.options import (
    OWN_SPACE_HELP,
    SPACE_NAMES,
    DeviceOption,
    JsonOption,
    MovedSpaceOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
    ThreadsOption,
    TrustSpaceCodeOption,
    opt,
)
from nasforge.cli.settings import Parsed, with_settings
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.report.export_text import prediction_line, trained_lines
from nasforge.run.setting_words import parse_options
from nasforge.run.train_request import TrainRequest

TRAIN_OPTIONS = {
    "space": opt(f"Search space of ARCH: {SPACE_NAMES} (default: by the task's input). "
                 + OWN_SPACE_HELP),
    "space_params": Parsed(SpaceOptions, lambda given: parse_options(given or [], "space option")),
    "epochs": opt("Training epochs."),
    "lr": opt("Learning rate."),
    "batch_size": opt("Batch size."),
    "augment": opt(
        "Random crop and flip for images; SpecAugment for audio. Default: on for audio "
        "(log-mel sequences), off otherwise."
    ),
    "threads": ThreadsOption,
    "device": DeviceOption,
    "precision": PrecisionOption,
    "seed": opt("Seed of the initialization and data order."),
    "out": opt("Folder to save the trained model in."),
}  # fmt: skip


@app.command()
@user_errors
@with_task_options(task_help=f"Task to train on: {TASKS}.")
@with_settings(TrainRequest, TRAIN_OPTIONS, parameter="request")
def train(
    arch: Annotated[str, typer.Argument(help="The architecture: NB201 string or Arch text.")],
    task_options: TaskOptions = TASK_OPTIONS,
    request: TrainRequest = TrainRequest(),
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
) -> None:
    """Train one architecture from scratch, report its test accuracy and save it."""
    from nasforge.run.train_request import plan_train

    plan = plan_train(arch, request, task_options, onnx=onnx, on_note=echo_note)
    if not as_json:
        Console(stderr=True).print(
            f"Training {plan.space.format(plan.arch)} for {request.epochs} epochs ..."
        )
    payload = plan.run(onnx=onnx)
    print_payload(payload, as_json, trained_lines)


@app.command()
@user_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A folder saved by search or train.")],
    data: Annotated[
        Path,
        opt(
            "Inputs: .npz (x or x_test), .npy or .csv; a text model: a UTF-8 text file, one "
            "text a line (every line, a blank one is an empty text); an audio model: a .wav "
            "file or a folder of them; an image model: a .png/.jpg file or a folder."
        ),
    ],
    label_column: Annotated[
        str | None, opt("Column to drop from a .csv before predicting.")
    ] = None,
    proba: Annotated[bool, opt("Also give every class's probability.", "--proba")] = False,
    top: Annotated[
        int | None,
        opt(
            "Also give the K most likely classes with their probabilities.",
            "--top",
            metavar="K",
            show_default=False,
        ),
    ] = None,
    space: MovedSpaceOption = None,
    trust_space_code: TrustSpaceCodeOption = False,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    as_json: JsonOption = False,
) -> None:
    """Predict classes for the inputs in a file or folder with a saved model.

    One row per input: its name (the .wav file, FILE[0], FILE[1], ... for the
    rows of an array file, "line N" for a text file) and its class; --top K
    adds the K most likely classes, --proba every class's probability
    (tab-separated; with --json under "rows").

    A model of your own space needs its space's code: --trust-space-code
    imports the file (or module) its arch.json records, --space one you name;
    without either nothing is imported and the folder is refused. Nothing in
    the folder itself runs code."""
    from nasforge.export import load_model
    from nasforge.export.predictions import check_top

    loaded = load_model(
        model_dir, space=space, trust_space_code=trust_space_code, device=device,
        precision=precision,
    )  # fmt: skip
    if top is not None:
        check_top(top, loaded.num_classes)
    payload = loaded.predictions(data, label_column=label_column).to_dict(
        str(model_dir), proba=proba, top=top
    )
    print_payload(payload, as_json, lambda p: [prediction_line(row) for row in p["rows"]])
