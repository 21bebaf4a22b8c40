"""The best architecture as a runnable artifact: a saved-model folder with arch and weights,
its predictions, and the inputs of its ONNX graph."""

from __future__ import annotations

from nasforge.export.ensemble_net import EnsembleNet
from nasforge.export.errors import ExportError
from nasforge.export.input_file import read_input_file
from nasforge.export.inputs import InputSpec, NamedInputs
from nasforge.export.loaded_model import LoadedModel
from nasforge.export.loading import load_model
from nasforge.export.predictions import Predictions
from nasforge.export.preprocess import onnx_inputs
from nasforge.export.saving import save_ensemble, save_model

__all__ = [
    "EnsembleNet",
    "ExportError",
    "InputSpec",
    "LoadedModel",
    "NamedInputs",
    "Predictions",
    "load_model",
    "onnx_inputs",
    "read_input_file",
    "save_ensemble",
    "save_model",
]
