"""`nasforge train` and `nasforge predict`: one architecture trained, saved and used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nasforge.cli import resume as _resume  # noqa: F401 (search and resume before train in --help)
from nasforge.cli.app import app
from nasforge.cli.common import (
    parse_options,
    print_task_notes,
    stdout_console,
    user_errors,
)
from nasforge.cli.options import (
    OWN_SPACE_HELP,
    SPACE_NAMES,
    DeviceOption,
    JsonOption,
    MovedSpaceOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
    TrustSpaceCodeOption,
)
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError
from nasforge.report.export_text import onnx_line, prediction_line, trained_line
from nasforge.run.final_model import save_retrained


@app.command()
@user_errors
@with_task_options(task_help=f"Task to train on: {TASKS}.")
def train(
    arch: Annotated[str, typer.Argument(help="The architecture: NB201 string or Arch text.")],
    task_options: TaskOptions = TASK_OPTIONS,
    space: Annotated[
        str | None,
        typer.Option(
            help=f"Search space of ARCH: {SPACE_NAMES} (default: by the task's input). "
            + OWN_SPACE_HELP
        ),
    ] = None,
    space_option: SpaceOptions = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 30,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 64,
    augment: Annotated[bool, typer.Option(help="Random crop and flip for images.")] = False,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the initialization and data order.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the trained model in.")] = Path(
        "models/trained"
    ),
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
) -> None:
    """Train one architecture from scratch, report its test accuracy and save it."""
    from nasforge.device import resolve_settings
    from nasforge.evaluate.training import retrain
    from nasforge.run.setup import task_training_evaluator

    device, precision = resolve_settings(device, precision)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    if onnx:
        from nasforge.export.onnx import require_onnx

        require_onnx()  # before training, not after
    from nasforge.space import with_named_options

    space_params = parse_options(space_option or [], what="space option")
    if space is not None:
        space_params = with_named_options(space, arch, space_params)
    chosen_space, evaluator = task_training_evaluator(
        task_options,
        space,
        space_params,
        {},
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment,
        threads=threads,
        seed=seed,
        device=device,
        precision=precision,
    )
    print_task_notes(getattr(evaluator, "task", None))
    parsed = chosen_space.parse(arch)
    if not as_json:
        Console(stderr=True).print(
            f"Training {chosen_space.format(parsed)} for {epochs} epochs ..."
        )
    retrained = retrain(evaluator, parsed, epochs)  # type: ignore[arg-type]
    payload = save_retrained(chosen_space, parsed, evaluator, retrained, out)
    if onnx:
        from nasforge.export.onnx import export_beside

        payload["onnx"] = export_beside(payload["model_dir"], trust_space_code=True).to_dict()
    if as_json:
        typer.echo(json.dumps(payload))
        return
    stdout_console().print(trained_line(payload))
    if onnx:
        typer.echo(onnx_line(payload["onnx"]))


@app.command()
@user_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A folder saved by search or train.")],
    data: Annotated[
        Path,
        typer.Option(
            help="Inputs: .npz (x or x_test), .npy or .csv; a text model: a UTF-8 text file, "
            "one text a line (every line, a blank one is an empty text); an audio model: a "
            ".wav file or a folder of them; an image model: a .png/.jpg file or a folder."
        ),
    ],
    label_column: Annotated[
        str | None, typer.Option(help="Column to drop from a .csv before predicting.")
    ] = None,
    proba: Annotated[
        bool, typer.Option("--proba", help="Also give every class's probability.")
    ] = False,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            help="Also give the K most likely classes with their probabilities.",
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
        model_dir,
        space=space,
        trust_space_code=trust_space_code,
        device=device,
        precision=precision,
    )
    if top is not None:
        check_top(top, loaded.num_classes)
    predictions = loaded.predictions(data, label_column=label_column)
    rows = predictions.rows(proba=proba, top=top)
    if as_json:
        payload = {
            "model": str(model_dir),
            "count": len(rows),
            "predictions": predictions.labels,
            "rows": rows,
        }
        typer.echo(json.dumps(payload))
        return
    for row in rows:
        typer.echo(prediction_line(row))
