"""`save_model` and `save_ensemble`: write a network (or several of one space) as a
saved-model folder (`nasforge.export.model_dir`), atomically."""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from nasforge.arch import Arch
from nasforge.data.task import Task
from nasforge.errors import ConfigError, NasforgeError
from nasforge.export.ensemble_net import EnsembleNet
from nasforge.export.errors import ExportError
from nasforge.export.model_dir import (
    ALIASES_KEY,
    ARCH_FILE,
    ENSEMBLE_VERSION,
    FORMAT,
    METRICS_FILE,
    SINGLE_VERSION,
    WEIGHTS_FILE,
    check_matches,
    hyperparameters_of,
)
from nasforge.space.base import SearchSpace
from nasforge.space.loading import space_key


def save_model(
    directory: str | os.PathLike[str],
    *,
    space: SearchSpace,
    arch: Arch,
    model: nn.Module,
    task: Task,
    metrics: Mapping[str, float] | None = None,
    train_config: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the saved-model folder for ``model`` (the network of ``arch`` in ``space``).

    The files are written to a temporary folder beside ``directory`` and renamed into place.
    An existing non-empty ``directory`` is replaced only with ``overwrite=True``. Returns the
    folder's path.
    """
    target = Path(directory).expanduser()
    _check_target(target, overwrite)
    arch = _validated(space, arch)
    record = _arch_record(space, arch, task, train_config)
    tensors, aliases = _tensors_to_save(model)
    check_matches(
        tensors,
        aliases,
        _reference_shapes(space, arch, task),
        space.format(arch),
        {"input_shape": task.input_shape, "num_classes": task.num_classes},
        "model's weights",
    )
    _write_folder(target, record, tensors, aliases, _metrics_record(metrics), overwrite)
    return target


def save_ensemble(
    directory: str | os.PathLike[str],
    *,
    space: SearchSpace,
    archs: Sequence[Arch],
    model: EnsembleNet,
    task: Task,
    metrics: Mapping[str, float] | None = None,
    train_configs: Sequence[Mapping[str, Any]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an ensemble (`EnsembleNet` of the networks of ``archs`` in ``space``, in that
    order) as one saved-model folder, which `load_model` reads back as one model.

    Its arch.json is a model's (the first member's arch as ``arch``) with format version
    `ENSEMBLE_VERSION` and ``members``: each member's arch, text form and train config; the
    weights file holds every member's tensors under ``members.<i>.``."""
    target = Path(directory).expanduser()
    _check_target(target, overwrite)
    if len(archs) != len(model.members) or not archs:
        raise ExportError(
            f"an ensemble of {len(model.members)} networks needs as many archs, not {len(archs)}"
        )
    configs = list(train_configs) if train_configs is not None else [{} for _ in archs]
    if len(configs) != len(archs):
        raise ExportError(f"{len(archs)} members need as many train configs, not {len(configs)}")
    checked = [_validated(space, arch) for arch in archs]
    record = _arch_record(space, checked[0], task, configs[0])
    record["version"] = ENSEMBLE_VERSION
    record["members"] = [
        {
            "arch": dict(arch),
            "arch_text": str(arch),
            "formatted": space.format(arch),
            "train_config": dict(config),
        }
        for arch, config in zip(checked, configs, strict=True)
    ]
    _check_plain_json(record)
    tensors, aliases = _tensors_to_save(model)
    reference: dict[str, tuple[int, ...]] = {}
    for i, arch in enumerate(checked):
        shapes = _reference_shapes(space, arch, task)
        reference.update({f"members.{i}.{name}": shape for name, shape in shapes.items()})
    check_matches(
        tensors,
        aliases,
        reference,
        " + ".join(space.format(arch) for arch in checked),
        {"input_shape": task.input_shape, "num_classes": task.num_classes},
        "ensemble's weights",
    )
    _write_folder(target, record, tensors, aliases, _metrics_record(metrics), overwrite)
    return target


def _write_folder(
    target: Path,
    record: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    aliases: dict[str, str],
    metrics_record: dict[str, float | None],
    overwrite: bool,
) -> None:
    """The three files, written to a temporary folder beside `target` and renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        (staging / ARCH_FILE).write_text(json.dumps(record, indent=2) + "\n")
        save_file(tensors, staging / WEIGHTS_FILE, metadata=_weights_metadata(aliases))
        (staging / METRICS_FILE).write_text(json.dumps(metrics_record, indent=2) + "\n")
        _move_into_place(staging, target, overwrite)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigError(f"cannot save a model to {target}: it exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ConfigError(
            f"{target} already exists and is not empty; pass overwrite=True to replace it"
        )


def _move_into_place(staging: Path, target: Path, overwrite: bool) -> None:
    _check_target(target, overwrite)  # again: something may have appeared meanwhile
    if not target.exists():
        staging.rename(target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _validated(space: SearchSpace, arch: Arch) -> Arch:
    try:
        return space.validate(arch)
    except NasforgeError as exc:
        raise ExportError(f"cannot save: {exc}") from None


def _arch_record(
    space: SearchSpace, arch: Arch, task: Task, train_config: Mapping[str, Any] | None
) -> dict[str, Any]:
    params = space.config()
    record: dict[str, Any] = {
        "format": FORMAT,
        "version": SINGLE_VERSION,
        "space": {"name": space_key(space), "params": params},
        "arch": dict(arch),
        "arch_text": str(arch),
        "formatted": space.format(arch),
    }
    hyperparameters = hyperparameters_of(arch)
    if hyperparameters:
        record["hyperparameters"] = hyperparameters
    mean = np.asarray(task.mean, dtype=np.float32)
    std = np.asarray(task.std, dtype=np.float32)
    record.update(
        {
            "input_shape": list(task.input_shape),
            "num_classes": int(task.num_classes),
            "class_names": list(task.class_names) if task.class_names is not None else None,
            "normalization": {
                "mean": [float(v) for v in mean.ravel()],
                "std": [float(v) for v in std.ravel()],
                "shape": list(mean.shape),
                "dtype": "float32",
            },
            "train_config": dict(train_config) if train_config is not None else None,
        }
    )
    if task.preprocessing is not None:
        record["preprocessing"] = dict(task.preprocessing)
    _check_plain_json(record)
    return record


def _check_plain_json(record: dict[str, Any]) -> None:
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"cannot save: space params or train_config are not plain JSON values ({exc})"
        ) from None


def _metrics_record(metrics: Mapping[str, float] | None) -> dict[str, float | None]:
    """Metrics as JSON numbers; a NaN or infinite value is written as null."""
    record: dict[str, float | None] = {}
    for name, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(f"metric {name!r} must be a number, not {type(value).__name__}")
        number = float(value)
        record[str(name)] = number if math.isfinite(number) else None
    return record


def _tensors_to_save(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state dict as contiguous CPU tensors that share no memory, and the tied names.

    A tensor that is the very same view as an earlier one (tied weights) is stored once;
    ``aliases`` maps its name to the stored name. Any other overlap is copied apart.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[Any, ...], str] = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach()
        view = (t.device, t.dtype, t.data_ptr(), tuple(t.shape), t.stride())
        if t.numel() > 0 and view in seen:
            aliases[name] = seen[view]
            continue
        if t.numel() > 0:
            seen[view] = name
        tensors[name] = t.to("cpu", copy=True).contiguous()
    return tensors, aliases


def _weights_metadata(aliases: dict[str, str]) -> dict[str, str]:
    metadata = {"format": "pt"}
    if aliases:
        metadata[ALIASES_KEY] = json.dumps(aliases)
    return metadata


def _reference_shapes(space: SearchSpace, arch: Arch, task: Task) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the state dict of the network `load_model` will build."""
    try:
        with torch.random.fork_rng(devices=[]):
            network = space.build(arch, task.input_shape, task.num_classes)
    except NasforgeError as exc:
        raise ExportError(f"cannot save: {exc}") from None
    return {name: tuple(t.shape) for name, t in network.state_dict().items()}
