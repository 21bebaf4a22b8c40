"""`nasforge export`: a saved model as ONNX, checked in onnxruntime."""

from __future__ import annotations

from nasforge.cli.app import app

__all__ = ["app"]
