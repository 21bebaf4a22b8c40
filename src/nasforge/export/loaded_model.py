"""`LoadedModel`: a network rebuilt from a saved-model folder, with its inputs' preprocessing
and its predictions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nasforge.arch import Arch, Choice
from nasforge.data.task import apply_normalization
from nasforge.device import autocast
from nasforge.export.errors import ExportError
from nasforge.export.inputs import InputSpec, RawInputs
from nasforge.export.predictions import Predictions
from nasforge.space.base import SearchSpace


@dataclass(eq=False)
class LoadedModel:
    """A network rebuilt from a saved-model folder, in eval mode on ``device`` (the CPU
    unless `load_model` was given another), predicting in ``precision``."""

    model: nn.Module
    arch: Arch
    space: SearchSpace
    input_shape: tuple[int, ...]
    num_classes: int
    class_names: tuple[str, ...] | None
    metrics: dict[str, float]
    mean: npt.NDArray[np.float32]
    std: npt.NDArray[np.float32]
    train_config: dict[str, Any] | None = None
    hyperparameters: dict[str, Choice] = field(default_factory=dict)
    preprocessing: dict[str, Any] | None = None
    """A text model's tokenizer (`nasforge.data.text.Tokenizer.to_dict`), else None."""
    members: tuple[Arch, ...] = ()
    """An ensemble's member archs (`model` is then an `EnsembleNet`); empty for one network."""

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    device: str = "cpu"
    precision: str = "fp32"

    @property
    def takes_text(self) -> bool:
        return self.preprocessing is not None and self.preprocessing.get("kind") == "text"

    def encode_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Texts as the token ids the network takes, with the tokenizer it was trained with."""
        from nasforge.data.text import Tokenizer

        if not self.takes_text or self.preprocessing is None:
            raise ExportError("this model does not take text")
        return Tokenizer.from_dict(self.preprocessing).encode(texts)

    @property
    def takes_audio(self) -> bool:
        return self.preprocessing is not None and self.preprocessing.get("kind") == "audio"

    def predict_audio(self, paths: Sequence[str | os.PathLike[str]]) -> npt.NDArray[np.int64]:
        """Class indices for WAV files (an audio model): the log-mel features it was trained
        on, normalized as in training."""
        from nasforge.data.audio import LogMel

        if not self.takes_audio or self.preprocessing is None:
            raise ExportError("this model does not take audio")
        features = LogMel.from_dict(self.preprocessing).model_inputs(
            [Path(p) for p in paths], bool(self.preprocessing.get("as_image", False))
        )
        return self.predict(features)

    def predict_texts(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        """Class indices for raw texts (a text model)."""
        return self.predict(self.encode_texts(texts))

    @property
    def input_spec(self) -> InputSpec:
        """What the network takes and how raw inputs become it (`nasforge.export.inputs`)."""
        return InputSpec(self.input_shape, self.preprocessing)

    def prepare(self, x_raw: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Raw inputs as the normalized float32 ``(N, *input_shape)`` array the network takes.

        Accepted: ``(N, *input_shape)``; ``(N, H, W)`` or ``(N, L)`` when there is one channel;
        ``(N, H, W, C)`` images. uint8 values are scaled by 1/255 as the loaders do.
        """
        model_x = self.input_spec.model_layout(x_raw)
        return apply_normalization(model_x, self.mean, self.std)

    def predictions(
        self, source: RawInputs, *, label_column: str | None = None, batch_size: int = 256
    ) -> Predictions:
        """Named class probabilities for a file or folder (a ``str`` or path: a text file for a
        text model, a .wav file or folder for an audio model, else .npz/.npy/.csv) or for
        in-memory inputs (texts as a list of strings, WAV paths, or an array); one row per
        input, in order. ``.labels``, ``.top(k)`` and ``.rows()`` give the rest."""
        named = self.input_spec.inputs(source, label_column=label_column)
        return Predictions(named.names, self.predict_proba(named.x, batch_size), self.class_names)

    def predict_proba(self, x_raw: npt.ArrayLike, batch_size: int = 256) -> npt.NDArray[np.float32]:
        """Class probabilities ``(N, num_classes)`` for raw inputs (see `prepare`)."""
        if batch_size < 1:
            raise ExportError(f"batch_size must be >= 1, not {batch_size}")
        x = torch.from_numpy(self.prepare(x_raw))
        self.model.eval()
        parts = [np.zeros((0, self.num_classes), np.float32)]
        device = torch.device(self.device)
        with torch.inference_mode(), autocast(device, self.precision):
            for xb in torch.split(x, batch_size):
                logits = self.model(xb.to(device)).float()
                parts.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(parts).astype(np.float32, copy=False)

    def predict(self, x_raw: npt.ArrayLike, batch_size: int = 256) -> npt.NDArray[np.int64]:
        """Class indices ``(N,)`` for raw inputs (see `prepare`)."""
        probabilities = self.predict_proba(x_raw, batch_size)
        return np.asarray(probabilities.argmax(axis=1), dtype=np.int64)
