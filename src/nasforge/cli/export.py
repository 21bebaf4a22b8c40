"""`nasforge export`: a saved model as ONNX, checked in onnxruntime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import (
    DeviceOption,
    JsonOption,
    MovedSpaceOption,
    TrustSpaceCodeOption,
    opt,
)
from nasforge.errors import ConfigError
from nasforge.report.export_text import onnx_line

__all__ = ["app"]

FORMATS = ("onnx",)


@app.command()
@user_errors
def export(
    model_dir: Annotated[Path, typer.Argument(help="A folder saved by search, train or oneshot.")],
    format: Annotated[str, opt("Format to write: onnx.", "--format")] = "onnx",
    out: Annotated[
        Path | None,
        opt("File to write (default: MODEL_DIR/model.onnx).", show_default=False),
    ] = None,
    data: Annotated[
        Path | None,
        opt(
            "Check the export on these inputs, as predict takes them (.npz, .npy or "
            ".csv; a text model: a text file; an audio model: .wav files or a folder) instead "
            "of samples drawn around the saved mean.",
            show_default=False,
        ),
    ] = None,
    space: MovedSpaceOption = None,
    trust_space_code: TrustSpaceCodeOption = False,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Write a saved model as ONNX, checked in onnxruntime beside PyTorch at once.

    The graph's input x is float32 (N, *input_shape) in the model's layout,
    before normalization (the saved normalization is in the graph); it returns
    logits and probabilities. Arrays: predict's input with its channel axis,
    (N, 1, 8, 8) for digits. Text: token ids (N, max_length). Audio: log-mel
    features (N, n_mels, frames). OUT.preprocess.json is written beside the
    graph, and nasforge.export.onnx_inputs(OUT, raw) turns what predict takes
    (texts, .wav files, (N, 8, 8) digits) into x; in Python:
    session.run(None, {"x": onnx_inputs("model.onnx", ["Who wrote Hamlet ?"])})

    The graph is float32 and traced on --device (auto: a GPU if torch sees
    one), where PyTorch's outputs are compared with onnxruntime's on the CPU."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")
    from nasforge.export import load_model
    from nasforge.export.onnx import export_onnx

    loaded = load_model(model_dir, space=space, trust_space_code=trust_space_code, device=device)
    inputs = loaded.input_spec.inputs(data).x if data is not None else None
    result = export_onnx(
        loaded, out if out is not None else model_dir / "model.onnx", inputs=inputs
    )
    print_payload(result.to_dict(), as_json, lambda payload: [onnx_line(payload)])
