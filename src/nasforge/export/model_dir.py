"""The saved-model folder: its files, format versions and the checks that saving and
loading share (`nasforge.export.saving`, `nasforge.export.loading`).

A folder written by `save_model` holds three files and no pickle::

    arch.json          what network this is: space, arch, input shape, classes, normalization
    model.safetensors  the state dict (parameters and buffers such as BatchNorm running stats)
    metrics.json       the numbers measured for it

`load_model` rebuilds the network with ``make_space(name, **params).build(arch, input_shape,
num_classes)``, loads the weights strictly and returns a `LoadedModel` whose `predict` takes
raw inputs (the layout and scale of the arrays given to `make_task`, or the raw files the
loaders read) and applies the stored normalization exactly as `Task.normalize` does;
`LoadedModel.predictions` takes a file, a folder or in-memory inputs (`nasforge.export.inputs`)
and gives each input's name, class probabilities, label and top classes.

The space's name is a registered name (``nb201``) or, for a space the user wrote, its spec:
``/absolute/path/file.py:Class`` or ``package.module:Class`` (`nasforge.space.loading`).
A folder is made to be shared, so loading one imports no code it names unless the caller
says so: ``load_model(folder, trust_space_code=True)`` imports the recorded file (a relative
path resolved against the folder) and says so on stderr; ``load_model(folder,
space="my/space.py:Class")`` imports the file the caller names instead. Without either, a
folder of a user's space is refused with a `SpaceConsentError` that says how to allow it.
Nothing in the folder itself runs code (the weights are safetensors, no pickle).

`save_ensemble` writes several networks of one space as one such folder (format version 2):
arch.json lists them under ``members`` and the weights file holds them all; `load_model`
rebuilds them as one `EnsembleNet` (their averaged probabilities), with the same consent
rules, so that `predict`, `predict_proba` and ONNX export treat an ensemble as one model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from nasforge.arch import Arch, Choice
from nasforge.export.errors import ExportError

FORMAT = "nasforge-model"
VERSION = 2
"""The newest format version this nasforge reads."""
SINGLE_VERSION = 1
"""The version `save_model` writes: one network (read by every nasforge)."""
ENSEMBLE_VERSION = 2
"""The version `save_ensemble` writes: ``members`` and their weights (`EnsembleNet`)."""
ARCH_FILE = "arch.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
HP_PREFIX = "hp."
"""Decisions whose label starts with this are hyperparameters (listed apart in arch.json)."""
ALIASES_KEY = "nasforge.aliases"  # safetensors metadata: {alias: stored name} for tied tensors


def hyperparameters_of(arch: Arch) -> dict[str, Choice]:
    return {
        label[len(HP_PREFIX) :]: choice
        for label, choice in arch.items()
        if label.startswith(HP_PREFIX)
    }


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ExportError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None


def check_matches(
    tensors: Mapping[str, torch.Tensor],
    aliases: Mapping[str, str],
    reference: Mapping[str, tuple[int, ...]],
    arch_text: str,
    fields: Mapping[str, Any],
    what: str,
) -> None:
    """Raise ExportError unless the names and shapes equal those of the ``reference`` network."""
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    shapes.update({alias: shapes[stored] for alias, stored in aliases.items()})
    missing = [name for name in reference if name not in shapes]
    unexpected = [name for name in shapes if name not in reference]
    wrong = [
        f"{name} is {shapes[name]} but the network has {shape}"
        for name, shape in reference.items()
        if name in shapes and shapes[name] != shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} ({_few(missing)})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} ({_few(unexpected)})")
    if wrong:
        problems.append(f"shape mismatch: {_few(wrong)}")
    if problems:
        raise ExportError(
            f"the {what} do not match the network of arch {arch_text} for input "
            f"{tuple(fields['input_shape'])} and {fields['num_classes']} classes: "
            f"{'; '.join(problems)}"
        )


def _few(items: list[str], limit: int = 3) -> str:
    more = f", ... {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
