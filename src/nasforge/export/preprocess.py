"""The pre-processor of an exported ONNX graph: ``<graph>.preprocess.json`` beside the graph,
and `onnx_inputs`, which turns raw inputs into what the graph takes.

The graph's input ``x`` is float32 ``(N, *input_shape)`` in the model's layout, before
normalization (the saved normalization is inside the graph). For a text model that is the
token ids of `nasforge.data.text.Tokenizer.encode` (``(N, max_length)``, zero-padded), for an
audio model the log-mel features of `nasforge.data.audio.LogMel` (``(N, n_mels, frames)``,
or ``(N, 1, n_mels, frames)`` as images), else the array as `nasforge predict` reads it with
one-channel ``(N, H, W)`` given its channel axis and uint8 scaled by 1/255. The JSON file
holds what that needs (the tokenizer's vocabulary and settings, or the log-mel settings),
the input's shape and dtype, and the class names of the graph's outputs, so that
``onnx_inputs("model.onnx", ["Who wrote Hamlet ?"])`` gives the graph's ``x`` from raw
inputs exactly as `nasforge predict` builds them (`nasforge.export.inputs`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from nasforge.export.errors import ExportError
from nasforge.export.inputs import InputSpec, RawInputs

if TYPE_CHECKING:
    from nasforge.export.loaded_model import LoadedModel

FORMAT = "nasforge-onnx-inputs"
VERSION = 1
SUFFIX = ".preprocess.json"
_PRODUCED_BY = {
    "text": "nasforge.data.text.Tokenizer.encode (token ids, 0 = padding, 1 = unknown)",
    "audio": "nasforge.data.audio.LogMel (log-mel features of the WAV files)",
    "images": "nasforge.data.image_files.pixels (RGB, resized, pixels in [0, 1])",
    "array": "the raw array in the model's layout (uint8 scaled by 1/255)",
}


def preprocess_path(graph: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.preprocess.json`` beside it."""
    path = Path(graph)
    return path.with_name(path.stem + SUFFIX)


def preprocess_record(loaded: LoadedModel, graph: Path) -> dict[str, Any]:
    spec = loaded.input_spec
    return {
        "format": FORMAT,
        "version": VERSION,
        "graph": graph.name,
        "input": {
            "name": "x",
            "dtype": "float32",
            "shape": ["N", *loaded.input_shape],
            "kind": spec.kind,
            "produced_by": _PRODUCED_BY[spec.kind],
            "normalized_in_graph": True,
        },
        "outputs": ["logits", "probabilities"],
        "input_shape": list(loaded.input_shape),
        "num_classes": loaded.num_classes,
        "class_names": list(loaded.class_names) if loaded.class_names is not None else None,
        "preprocessing": dict(loaded.preprocessing) if loaded.preprocessing is not None else None,
    }


def write_preprocess(loaded: LoadedModel, graph: str | os.PathLike[str]) -> Path:
    """Write ``<graph>.preprocess.json`` for the graph of ``loaded``; returns its path."""
    target = preprocess_path(graph)
    target.write_text(json.dumps(preprocess_record(loaded, Path(graph)), indent=2) + "\n")
    return target


def read_preprocess(where: str | os.PathLike[str]) -> InputSpec:
    """The `InputSpec` of an exported graph: ``where`` is the .onnx file, its
    ``.preprocess.json``, or a model folder holding ``model.onnx``'s."""
    path = Path(where).expanduser()
    if path.is_dir():
        path = path / ("model" + SUFFIX)
    elif not path.name.endswith(SUFFIX):
        path = preprocess_path(path)
    if not path.is_file():
        raise ExportError(
            f"no pre-processor file {path}: 'nasforge export' writes it beside the graph"
        )
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ExportError(f"{path} is not a nasforge pre-processor file (format {FORMAT!r})")
    shape = record.get("input_shape")
    preprocessing = record.get("preprocessing")
    if not (isinstance(shape, list) and shape and all(isinstance(n, int) for n in shape)):
        raise ExportError(f'{path} is malformed: "input_shape" must be a list of integers')
    if preprocessing is not None and not isinstance(preprocessing, dict):
        raise ExportError(f'{path} is malformed: "preprocessing" must be null or an object')
    return InputSpec(tuple(shape), preprocessing)


def onnx_inputs(
    where: str | os.PathLike[str], raw_inputs: RawInputs, *, label_column: str | None = None
) -> npt.NDArray[np.float32]:
    """The graph's input ``x`` for raw inputs, as `nasforge predict` reads them.

    ``where``: the exported .onnx file (its ``.preprocess.json`` is read), that JSON file, or
    a model folder exported to ``model.onnx``. ``raw_inputs``: a file or folder (a ``str``
    or path: a text file for a text model, a .wav file or folder for an audio model, else
    .npz/.npy/.csv), texts as a list of strings, WAV paths, or an array such as digits'
    ``(N, 8, 8)``. Rows keep the order of the inputs (a folder's files sorted by name)::

        session = onnxruntime.InferenceSession("model.onnx")
        logits, probabilities = session.run(None, {"x": onnx_inputs("model.onnx", texts)})
    """
    spec = read_preprocess(where)
    return np.ascontiguousarray(spec.inputs(raw_inputs, label_column=label_column).x)
