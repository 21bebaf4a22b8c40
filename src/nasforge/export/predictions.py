"""`Predictions`: a saved model's class probabilities for named inputs, as labels, the top k
classes, or rows for people and programs (`nasforge predict`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.export.errors import ExportError

Label = str | int
"""A class's name, or its index when the model has no class names."""


def check_top(k: int, num_classes: int) -> None:
    """Raise ExportError unless 1 <= ``k`` <= ``num_classes``."""
    if not 1 <= k <= num_classes:
        raise ExportError(f"top {k}: choose from 1 to {num_classes} (the model's classes)")


@dataclass(frozen=True)
class Predictions:
    """One row per input: its name and the probability of each class."""

    names: tuple[str, ...]
    probabilities: npt.NDArray[np.float32]
    """``(N, num_classes)``: softmax of the network's logits."""
    class_names: tuple[str, ...] | None

    def __post_init__(self) -> None:
        if self.probabilities.ndim != 2 or len(self.names) != len(self.probabilities):
            raise ExportError(
                f"{len(self.names)} names for probabilities of shape {self.probabilities.shape}"
            )

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_classes(self) -> int:
        return int(self.probabilities.shape[1])

    @property
    def indices(self) -> npt.NDArray[np.int64]:
        """The most likely class of each input, ``(N,)``."""
        return np.asarray(self.probabilities.argmax(axis=1), dtype=np.int64)

    def label(self, index: int) -> Label:
        return self.class_names[index] if self.class_names is not None else int(index)

    @property
    def labels(self) -> list[Label]:
        """The most likely class of each input, by name (or index without class names)."""
        return [self.label(int(i)) for i in self.indices]

    def top(self, k: int) -> list[list[tuple[Label, float]]]:
        """The ``k`` most likely classes of each input with their probabilities, most likely
        first (ties: the lower class index first, as `labels`)."""
        check_top(k, self.num_classes)
        order = np.argsort(-self.probabilities, axis=1, kind="stable")[:, :k]
        return [
            [(self.label(int(c)), float(p[c])) for c in row]
            for row, p in zip(order, self.probabilities, strict=True)
        ]

    def rows(self, *, proba: bool = False, top: int | None = None) -> list[dict[str, Any]]:
        """One JSON-ready dict per input: ``input`` (its name) and ``label``; with ``proba``,
        ``probabilities`` (class -> probability, every class); with ``top``, ``top`` (a list
        of ``{"label", "probability"}``, most likely first)."""
        tops = self.top(top) if top is not None else None
        rows: list[dict[str, Any]] = []
        for i, (name, label) in enumerate(zip(self.names, self.labels, strict=True)):
            row: dict[str, Any] = {"input": name, "label": label}
            if proba:
                row["probabilities"] = {
                    str(self.label(c)): float(p) for c, p in enumerate(self.probabilities[i])
                }
            if tops is not None:
                row["top"] = [{"label": lab, "probability": p} for lab, p in tops[i]]
            rows.append(row)
        return rows

    def to_dict(self, model: str, *, proba: bool = False, top: int | None = None) -> dict[str, Any]:
        """What ``nasforge predict --json`` prints: the model folder, the count, the labels
        and the `rows`."""
        rows = self.rows(proba=proba, top=top)
        return {"model": model, "count": len(rows), "predictions": self.labels, "rows": rows}
