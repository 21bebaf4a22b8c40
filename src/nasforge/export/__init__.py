"""The best architecture as a runnable artifact: a saved-model folder with arch and weights."""

from __future__ import annotations

from nasforge.export.model_dir import (
    ExportError,
    LoadedModel,
    load_model,
    read_input_file,
    save_model,
)

__all__ = ["ExportError", "LoadedModel", "load_model", "read_input_file", "save_model"]
