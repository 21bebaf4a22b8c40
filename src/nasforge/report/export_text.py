"""A trained, exported or used model as lines of text: what ``nasforge train``, ``export``
and ``predict`` print from the payloads their ``--json`` prints."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def trained_line(payload: dict[str, Any]) -> Text:
    """One trained architecture (`nasforge.run.final_model.save_retrained`'s payload)."""
    return Text.assemble(
        f"{payload['arch']}: test accuracy ",
        (f"{payload['test_accuracy']:.2f}%", "bold"),
        f" after {payload['epochs']} epochs (valid {payload['valid_accuracy']:.2f}%); "
        f"saved to {payload['model_dir']}",
    )


def trained_lines(payload: dict[str, Any]) -> list[Text | str]:
    """`trained_line`, then the ONNX export where there is one (a plain line)."""
    return [trained_line(payload)] + ([onnx_line(payload["onnx"])] if payload.get("onnx") else [])


def onnx_line(payload: dict[str, Any]) -> str:
    """An ONNX export and its check (`nasforge.export.onnx.OnnxExport.to_dict`)."""
    return (
        f"ONNX written to {payload['onnx']} (opset {payload['opset']}); checked in onnxruntime "
        f"on {payload['checked_samples']} inputs: probabilities within "
        f"{payload['max_probability_difference']:.2g} of PyTorch's (tolerance "
        f"{payload['tolerance']:g}), same class for {100 * payload['same_predictions']:.0f}%; "
        f"its inputs from raw ones: nasforge.export.onnx_inputs with {payload['preprocess']}"
    )


def prediction_line(row: dict[str, object]) -> str:
    """NAME, LABEL, then the top classes and every class's probability, tab-separated."""
    fields = [str(row["input"]), str(row["label"])]
    top = row.get("top")
    if isinstance(top, list):
        fields.append(" ".join(f"{t['label']}={t['probability']:.4f}" for t in top))
    probabilities = row.get("probabilities")
    if isinstance(probabilities, dict):
        fields.append(" ".join(f"{c}={p:.4f}" for c, p in probabilities.items()))
    return "\t".join(fields)
