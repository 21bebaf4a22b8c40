"""Raw inputs as what a saved network takes: one definition for `nasforge predict`, the
Python API and the ONNX graph's pre-processor.

An `InputSpec` holds what a saved model knows about its inputs: the input shape and, for
text and audio models, the tokenizer or the log-mel settings (``preprocessing`` of
arch.json). `InputSpec.inputs` turns raw inputs into `NamedInputs`: float32
``(N, *input_shape)`` in the model's layout, before normalization, with one name per input:

- a text model: a UTF-8 text file, one text a line (every line, a blank one is an empty
  text; named ``line 1``, ``line 2``, ...), or a list of strings (``[0]``, ``[1]``, ...);
  the graph takes the token ids (`nasforge.data.text.Tokenizer.encode`);
- an audio model: a .wav file (named as given), a folder of them (sorted, named by file
  name) or a list of paths; the graph takes log-mel features (`nasforge.data.audio.LogMel`);
- an image model (trained on an images task): a .png/.jpg/.jpeg file, a folder of them
  (sorted, named by file name) or a list of paths; each is decoded as RGB and resized to the
  training size (`nasforge.data.images`), pixels in [0, 1];
- any other model: a .npz (``x``, else ``x_test``), .npy or .csv file (rows named
  ``FILE[0]``, ``FILE[1]``, ...) or an array; ``(N, *input_shape)``, ``(N, H, W)`` or
  ``(N, L)`` for one channel, ``(N, H, W, C)`` images; uint8 is scaled by 1/255.

A path is always read as a file or folder, never as a text: give texts as a list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard, cast

import numpy as np
import numpy.typing as npt

from nasforge.data.loaders import to_model_layout
from nasforge.data.task import DataError
from nasforge.export.errors import ExportError

RawInputs = str | os.PathLike[str] | Sequence[str] | Sequence[os.PathLike[str]] | npt.ArrayLike
"""A file or folder, texts (a text model), WAV paths (an audio model), or an array."""


@dataclass(frozen=True)
class NamedInputs:
    """What the network takes, ``x`` (float32 ``(N, *input_shape)``, before normalization),
    and a name for each of its N inputs."""

    names: tuple[str, ...]
    x: npt.NDArray[np.float32]


@dataclass(frozen=True)
class InputSpec:
    """A saved model's inputs: their shape and how raw text or audio becomes them."""

    input_shape: tuple[int, ...]
    preprocessing: Mapping[str, Any] | None = None

    @property
    def kind(self) -> str:
        """``text``, ``audio``, ``images`` or ``array``."""
        kind = (self.preprocessing or {}).get("kind")
        return kind if kind in ("text", "audio", "images") else "array"

    def inputs(self, source: RawInputs, *, label_column: str | None = None) -> NamedInputs:
        """`NamedInputs` for a file or folder (a ``str`` or path) or for in-memory inputs."""
        if label_column is not None and self.kind != "array":
            takes = {"text": "a text file", "audio": ".wav files"}.get(self.kind, "image files")
            raise ExportError(f"label_column applies to .csv inputs; this model takes {takes}")
        if isinstance(source, (str, os.PathLike)):
            return self._read(Path(source), label_column)
        if self.kind == "text" and _all_strings(source):
            texts = list(source)
            return NamedInputs(_indices(len(texts)), self._tokenizer().encode(texts))
        if self.kind in ("audio", "images") and _all_paths(source):
            paths = [Path(p) for p in source]
            return NamedInputs(tuple(str(p) for p in paths), self._features(paths))
        x = self.model_layout(cast(npt.ArrayLike, source))
        return NamedInputs(_indices(len(x)), x)

    def model_layout(self, x_raw: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """An array of raw inputs as float32 ``(N, *input_shape)`` (see the module docstring),
        checked for shape and finite values."""
        x = np.asarray(x_raw)
        if x.dtype.kind not in "biuf":
            raise ExportError(f"inputs must be numeric, got dtype {x.dtype}")
        layout = _layout(x.shape, self.input_shape)
        if layout == "nl":  # one-channel sequences without the channel axis
            x, layout = x[:, None], "ncl"
        try:
            model_x = to_model_layout(x, layout, "x")
        except DataError as exc:
            raise ExportError(str(exc)) from None
        if not np.isfinite(model_x).all():
            bad = int((~np.isfinite(model_x)).reshape(len(model_x), -1).any(axis=1).sum())
            raise ExportError(f"inputs have NaN or infinite values in {bad} rows")
        return model_x

    def _read(self, path: Path, label_column: str | None) -> NamedInputs:
        if self.kind == "text":
            from nasforge.data.text import read_text_lines

            texts = read_text_lines(path)
            names = tuple(f"line {n}" for n in range(1, len(texts) + 1))
            return NamedInputs(names, self._tokenizer().encode(texts))
        if self.kind in ("audio", "images"):
            from nasforge.data.audio import wav_inputs
            from nasforge.data.images import image_inputs

            files = wav_inputs(path) if self.kind == "audio" else image_inputs(path)
            names = tuple(f.name for f in files) if path.is_dir() else (str(path),)
            return NamedInputs(names, self._features(files))
        from nasforge.export.input_file import read_input_file

        x = self.model_layout(read_input_file(path, label_column=label_column))
        return NamedInputs(tuple(f"{path.name}[{i}]" for i in range(len(x))), x)

    def _tokenizer(self) -> Any:
        from nasforge.data.text import Tokenizer

        return Tokenizer.from_dict(self.preprocessing or {})

    def _features(self, paths: Sequence[Path]) -> npt.NDArray[np.float32]:
        settings = self.preprocessing or {}
        if self.kind == "images":
            from nasforge.data.image_files import pixels

            return self.model_layout(pixels([str(p) for p in paths], int(self.input_shape[-1])))
        from nasforge.data.audio import LogMel

        features = LogMel.from_dict(settings).model_inputs(
            list(paths), bool(settings.get("as_image", False))
        )
        return self.model_layout(features)


def _all_strings(source: object) -> TypeGuard[Sequence[str]]:
    return isinstance(source, (list, tuple)) and all(isinstance(s, str) for s in source)


def _all_paths(source: object) -> TypeGuard[Sequence[str | os.PathLike[str]]]:
    return (
        isinstance(source, (list, tuple))
        and len(source) > 0
        and all(isinstance(s, (str, os.PathLike)) for s in source)
    )


def _indices(count: int) -> tuple[str, ...]:
    return tuple(f"[{i}]" for i in range(count))


def _layout(shape: tuple[int, ...], input_shape: tuple[int, ...]) -> str:
    """The loaders' name for how an input array of ``shape`` holds examples of ``input_shape``."""
    expected = f"(N, {', '.join(str(n) for n in input_shape)})"
    if len(shape) == 0:
        raise ExportError(f"inputs must have shape {expected}, got a scalar")
    example = tuple(shape[1:])
    if example == input_shape:
        return {1: "nf", 2: "ncl", 3: "nchw"}.get(len(input_shape), "nchw")
    if len(input_shape) in (2, 3) and input_shape[0] == 1 and example == input_shape[1:]:
        return "nhw" if len(input_shape) == 3 else "nl"
    if len(input_shape) == 3 and example == (*input_shape[1:], input_shape[0]):
        return "nhwc"
    accepted = expected
    if len(input_shape) in (2, 3) and input_shape[0] == 1:
        accepted += f" or (N, {', '.join(str(n) for n in input_shape[1:])})"
    if len(input_shape) == 3:
        accepted += f" or (N, {input_shape[1]}, {input_shape[2]}, {input_shape[0]})"
    raise ExportError(f"inputs must have shape {accepted}, got {shape}")
