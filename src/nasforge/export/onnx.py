"""`export_onnx`: a saved model as an ONNX graph that other runtimes load, checked on the spot.

The graph takes float32 ``(N, *input_shape)`` in the model's layout, before normalization
(the saved normalization is its first step) and returns the logits and the class
probabilities. For a model of arrays that is `nasforge predict`'s array with its channel
axis; for a text model the token ids, for an audio model the log-mel features: the
tokenizer and the WAV reading are not in the graph. ``<graph>.preprocess.json``, written
beside it, and `nasforge.export.onnx_inputs` turn raw inputs (texts, WAV files, digits'
``(N, 8, 8)``) into what the graph takes (`nasforge.export.preprocess`). After export the
graph is run in onnxruntime on sample inputs beside the PyTorch model, and the largest
difference is reported (and refused above `tolerance`).

Exported with PyTorch's torch.export-based exporter (``dynamo=True``, the default since
PyTorch 2.9; it needs the ``onnxscript`` package). Needs the extra ``nasforge[onnx]``.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nasforge.export.errors import ExportError
from nasforge.export.loaded_model import LoadedModel
from nasforge.export.preprocess import preprocess_path, write_preprocess

TOLERANCE = 1e-4
"""Largest accepted difference between onnxruntime's and PyTorch's class probabilities."""
SAMPLES = 64
OPSET = 18


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    preprocess: Path
    """The pre-processor file beside the graph (`nasforge.export.preprocess`)."""
    samples: int
    """Inputs both runtimes were compared on."""
    max_probability_difference: float
    max_logit_difference: float
    same_predictions: float
    """Share of the samples whose predicted class is the same in both runtimes."""
    tolerance: float
    opset: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "onnx": str(self.path),
            "preprocess": str(self.preprocess),
            "opset": self.opset,
            "checked_samples": self.samples,
            "max_probability_difference": self.max_probability_difference,
            "max_logit_difference": self.max_logit_difference,
            "same_predictions": self.same_predictions,
            "tolerance": self.tolerance,
        }


class NormalizedClassifier(nn.Module):
    """The saved normalization, the network, and a softmax: raw inputs to (logits, probs)."""

    def __init__(self, model: nn.Module, mean: npt.ArrayLike, std: npt.ArrayLike, ndim: int):
        super().__init__()
        shape = (1, -1) + (1,) * (ndim - 1)
        self.model = model
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(np.array(mean, np.float32)).reshape(shape))
        self.register_buffer("std", torch.tensor(np.array(std, np.float32)).reshape(shape))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model((x - self.mean) / self.std)
        return logits, torch.softmax(logits, dim=1)


def export_onnx(
    loaded: LoadedModel,
    out: str | Path,
    *,
    inputs: npt.ArrayLike | None = None,
    tolerance: float = TOLERANCE,
    seed: int = 0,
) -> OnnxExport:
    """Write `loaded` to `out` as ONNX with ``<out>.preprocess.json`` beside it, and check it
    in onnxruntime on `inputs` (an array as `LoadedModel.prepare` takes it, such as
    ``loaded.input_spec.inputs(path).x``; default: `SAMPLES` drawn around the saved mean, or
    random token ids for a text model). The graph is traced on the model's device
    (``loaded.device``) in float32, and checked against PyTorch there."""
    onnxruntime = require_onnx()
    path = Path(out)
    if path.is_dir():
        raise ExportError(f"--out {path} is a folder; give a file name such as model.onnx")
    if not path.parent.exists():
        raise ExportError(f"cannot write {path}: folder {path.parent} does not exist")
    samples = _samples(loaded, inputs, seed)
    device = torch.device(loaded.device)
    wrapped = NormalizedClassifier(loaded.model, loaded.mean, loaded.std, len(loaded.input_shape))
    wrapped = wrapped.to(device).eval()
    example = torch.from_numpy(samples[: min(2, len(samples))].copy()).to(device)
    started = time.perf_counter()
    _quiet_export(wrapped, example, path)
    seconds = time.perf_counter() - started
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits, onnx_probabilities = session.run(None, {"x": samples})
    with torch.inference_mode():
        outputs = wrapped(torch.from_numpy(samples).to(device))
        torch_logits, torch_probabilities = (t.cpu().numpy() for t in outputs)
    probability_difference = float(np.abs(onnx_probabilities - torch_probabilities).max())
    result = OnnxExport(
        path=path,
        preprocess=preprocess_path(path),
        samples=len(samples),
        max_probability_difference=probability_difference,
        max_logit_difference=float(np.abs(onnx_logits - torch_logits).max()),
        same_predictions=float(
            np.mean(onnx_probabilities.argmax(axis=1) == torch_probabilities.argmax(axis=1))
        ),
        tolerance=tolerance,
        opset=OPSET,
        seconds=seconds,
    )
    if not probability_difference <= tolerance:
        path.unlink(missing_ok=True)
        preprocess_path(path).unlink(missing_ok=True)  # an earlier export's, now stale
        raise ExportError(
            f"the ONNX graph's probabilities differ from PyTorch's by {probability_difference:.3g}"
            f" (tolerance {tolerance:g}); not written"
        )
    write_preprocess(loaded, path)
    return result


def export_beside(model_dir: str | Path, *, trust_space_code: bool = False) -> OnnxExport:
    """A saved-model folder's network as ``model.onnx`` in that folder, checked.
    ``trust_space_code``: as `load_model`'s (a command that has just saved the folder from
    the space it built passes True: that code is imported already)."""
    from nasforge.export.loading import load_model

    loaded = load_model(model_dir, trust_space_code=trust_space_code)
    return export_onnx(loaded, Path(model_dir) / "model.onnx")


def _samples(loaded: LoadedModel, inputs: npt.ArrayLike | None, seed: int) -> np.ndarray:
    if inputs is not None:
        prepared = loaded.prepare(inputs)  # checks shape and values, normalizes
        shape = (1, -1) + (1,) * (prepared.ndim - 2)
        raw = prepared * loaded.std.reshape(shape) + loaded.mean.reshape(shape)
        return np.ascontiguousarray(raw[:SAMPLES], dtype=np.float32)
    rng = np.random.default_rng(seed)
    if loaded.takes_text and loaded.preprocessing is not None:
        vocabulary = len(loaded.preprocessing.get("vocabulary", ())) or 2
        ids = rng.integers(0, vocabulary, (SAMPLES, *loaded.input_shape))
        return np.ascontiguousarray(ids, dtype=np.float32)
    shape = (1, -1) + (1,) * (len(loaded.input_shape) - 1)
    noise = rng.standard_normal((SAMPLES, *loaded.input_shape)).astype(np.float32)
    raw = noise * loaded.std.reshape(shape) + loaded.mean.reshape(shape)
    return np.ascontiguousarray(raw, dtype=np.float32)


def _quiet_export(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """torch.onnx.export without its progress lines and warnings about packages we don't use
    (torchvision's ops); errors still raise."""
    batch = torch.export.Dim("batch", min=1)
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=True,
                input_names=["x"],
                output_names=["logits", "probabilities"],
                dynamic_shapes={"x": {0: batch}},
                opset_version=OPSET,
                external_data=False,
                verbose=False,
                report=False,
            )
    except ExportError:
        raise
    except Exception as exc:  # the exporter's many error types: one line for the user
        path.unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"torch.onnx.export could not export this network: {first}") from exc
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def require_onnx() -> Any:
    """onnxruntime, or a one-line error naming the missing package of ``nasforge[onnx]``."""
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ExportError(f"ONNX export needs {exc.name}: pip install 'nasforge[onnx]'") from None
    return onnxruntime
