"""`nasforge train` and `nasforge predict`: one architecture trained, saved and used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nasforge.cli.app import app
from nasforge.cli.common import (
    OWN_SPACE_HELP,
    SPACE_NAMES,
    TASKS,
    DataOption,
    FineOption,
    JsonOption,
    LabelPatternOption,
    MaxLengthOption,
    OnnxOption,
    SpaceOptions,
    SpectrogramImageOption,
    TestDataOption,
    TestPatternOption,
    TextColumnOption,
    parse_options,
    stdout_console,
    text_task_options,
    user_errors,
)
from nasforge.cli.search import save_retrained
from nasforge.errors import ConfigError


@app.command()
@user_errors
def train(
    arch: Annotated[str, typer.Argument(help="The architecture: NB201 string or Arch text.")],
    task: Annotated[str, typer.Option(help=f"Task to train on: {TASKS}.")] = "digits",
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    test_data: TestDataOption = None,
    text_column: TextColumnOption = None,
    fine: FineOption = False,
    max_length: MaxLengthOption = None,
    label_pattern: LabelPatternOption = None,
    test_pattern: TestPatternOption = None,
    spectrogram_image: SpectrogramImageOption = False,
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
    seed: Annotated[int, typer.Option(help="Seed of the initialization and data order.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder to save the trained model in.")] = Path(
        "models/trained"
    ),
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
) -> None:
    """Train one architecture from scratch, report its test accuracy and save it."""
    from nasforge.evaluate.training import retrain
    from nasforge.run.setup import training_evaluator

    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    if onnx:
        from nasforge.export.onnx import require_onnx

        require_onnx()  # before training, not after
    from nasforge.space import with_named_options

    space_params = parse_options(space_option or [], what="space option")
    if space is not None:
        space_params = with_named_options(space, arch, space_params)
    chosen_space, evaluator = training_evaluator(
        task,
        data,
        space,
        space_params,
        {},
        label_column=label_column,
        task_options=text_task_options(
            task,
            test_data,
            text_column,
            fine,
            max_length,
            label_pattern,
            test_pattern,
            spectrogram_image,
        ),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        augment=augment,
        threads=threads,
        seed=seed,
    )
    parsed = chosen_space.parse(arch)
    if not as_json:
        Console(stderr=True).print(
            f"Training {chosen_space.format(parsed)} for {epochs} epochs ..."
        )
    retrained = retrain(evaluator, parsed, epochs)  # type: ignore[arg-type]
    payload = save_retrained(chosen_space, parsed, evaluator, retrained, out)
    if onnx:
        from nasforge.export.onnx import export_beside

        payload["onnx"] = export_beside(payload["model_dir"]).to_dict()
    if as_json:
        typer.echo(json.dumps(payload))
        return
    stdout_console().print(
        f"{payload['arch']}: test accuracy [bold]{payload['test_accuracy']:.2f}%[/] "
        f"after {payload['epochs']} epochs (valid {payload['valid_accuracy']:.2f}%); "
        f"saved to {payload['model_dir']}"
    )
    if onnx:
        from nasforge.cli.export import onnx_line

        typer.echo(onnx_line(payload["onnx"]))


@app.command()
@user_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A folder saved by search or train.")],
    data: Annotated[
        Path,
        typer.Option(
            help="Inputs: .npz (x or x_test), .npy or .csv; a text model: a text a line; "
            "an audio model: a .wav file or a folder of them."
        ),
    ],
    label_column: Annotated[
        str | None, typer.Option(help="Column to drop from a .csv before predicting.")
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(
            help="Where the model's own space is defined now, path/to/file.py:ClassName or "
            "package.module:ClassName, if it has moved since the model was saved.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Predict classes for the inputs in a file with a saved model.

    A model of your own space imports the file (or module) it was searched from, as recorded
    in its arch.json; nothing else in the folder runs code."""
    from nasforge.export import load_model, read_input_file

    loaded = load_model(model_dir, space=space)
    if loaded.takes_text:
        from nasforge.data.text import read_text_lines

        predictions = loaded.predict_texts(read_text_lines(data))
    elif loaded.takes_audio:
        from nasforge.data.audio import wav_inputs

        predictions = loaded.predict_audio(wav_inputs(data))
    else:
        predictions = loaded.predict(read_input_file(data, label_column=label_column))
    names = loaded.class_names
    labels = [names[int(p)] if names else int(p) for p in predictions]
    if as_json:
        typer.echo(
            json.dumps({"model": str(model_dir), "count": len(labels), "predictions": labels})
        )
        return
    for label in labels:
        typer.echo(str(label))
