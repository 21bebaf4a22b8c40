"""`load_model`: rebuild the network of a saved-model folder with its weights, importing a
user's space code only with consent (`nasforge.export.model_dir`)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import safetensors
import torch
from safetensors.torch import load_file
from torch import nn

from nasforge.arch import Arch
from nasforge.device import resolve_device, resolve_precision
from nasforge.errors import ConfigError, NasforgeError
from nasforge.export.ensemble_net import EnsembleNet
from nasforge.export.errors import ExportError
from nasforge.export.loaded_model import LoadedModel
from nasforge.export.model_dir import (
    ALIASES_KEY,
    ARCH_FILE,
    ENSEMBLE_VERSION,
    FORMAT,
    METRICS_FILE,
    VERSION,
    WEIGHTS_FILE,
    check_matches,
    hyperparameters_of,
    read_json,
)
from nasforge.space.base import SearchSpace
from nasforge.space.loading import is_spec
from nasforge.space.stored import SpaceConsent, rebuild_space


def load_model(
    directory: str | os.PathLike[str],
    *,
    space: str | None = None,
    trust_space_code: bool = False,
    device: str = "cpu",
    precision: str = "fp32",
) -> LoadedModel:
    """Rebuild the network saved in ``directory`` with its weights, in eval mode on the CPU,
    then moved to ``device`` (``auto``: a GPU if torch sees one) to predict in ``precision``
    (`nasforge.device`). Weights are stored from CPU copies, so a model trained on
    a GPU loads on a machine without one.

    A folder of a user's space imports that space's code only with consent:
    ``trust_space_code=True`` imports the file (or module) the folder records; ``space``
    (``path/file.py:Class`` or ``package.module:Class``) imports the one the caller names
    instead, with the recorded options. Built-in spaces need neither."""
    placed = resolve_device(device)
    chosen_precision = resolve_precision(precision, placed)
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ExportError(f"cannot load a model from {folder}: it {what}")
    for name in (ARCH_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise ExportError(f"{folder} is not a saved model: {name} is missing")
    record = read_json(folder / ARCH_FILE)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise ExportError(
            f"{folder / ARCH_FILE} is not a nasforge model file (format {found!r}, "
            f"expected {FORMAT!r})"
        )
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ExportError(
            f"{folder / ARCH_FILE} has format version {version!r}; this nasforge reads "
            f"versions up to {VERSION}: upgrade nasforge"
        )
    fields = _read_fields(record, folder / ARCH_FILE)
    if space is not None and not is_spec(space):
        raise ExportError(
            f"space={space!r} must name a file or module and a class: "
            "path/to/file.py:ClassName or package.module:ClassName"
        )
    member_records = _read_members(record, folder / ARCH_FILE)
    rebuilt, arch = _rebuild_space(fields, folder, SpaceConsent(space, trust_space_code))
    members = tuple(_member_arch(rebuilt, m, folder) for m in member_records)
    model: nn.Module
    if members:
        model = EnsembleNet(
            [
                _build(rebuilt, m, fields["input_shape"], fields["num_classes"], folder)
                for m in members
            ]
        )
    else:
        model = _build(rebuilt, arch, fields["input_shape"], fields["num_classes"], folder)
    _load_weights(model, folder / WEIGHTS_FILE, rebuilt, arch, fields)
    model.to(placed)
    model.eval()
    return LoadedModel(
        model=model,
        arch=arch,
        space=rebuilt,
        input_shape=fields["input_shape"],
        num_classes=fields["num_classes"],
        class_names=fields["class_names"],
        metrics=_read_metrics(folder / METRICS_FILE),
        mean=fields["mean"],
        std=fields["std"],
        train_config=fields["train_config"],
        hyperparameters=hyperparameters_of(arch),
        preprocessing=fields["preprocessing"],
        members=members,
        device=str(placed),
        precision=chosen_precision,
    )


def _read_members(record: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The ``members`` of an ensemble's arch.json (empty for one network)."""
    members = record.get("members")
    if members is None and record.get("version") == ENSEMBLE_VERSION:
        raise ExportError(f'{path} is malformed: an ensemble (version 2) needs "members"')
    if members is None:
        return []
    if not (
        isinstance(members, list)
        and members
        and all(isinstance(m, dict) and isinstance(m.get("arch"), dict) for m in members)
    ):
        raise ExportError(
            f'{path} is malformed: "members" must be a non-empty list of {{"arch": {{...}}}}'
        )
    return members


def _member_arch(space: SearchSpace, member: dict[str, Any], folder: Path) -> Arch:
    try:
        return space.validate(Arch(member["arch"]))
    except NasforgeError as exc:
        raise ExportError(
            f"an ensemble member's arch saved in {folder} does not fit the space: {exc}"
        ) from None


def _read_fields(record: dict[str, Any], path: Path) -> dict[str, Any]:
    """The typed fields of arch.json, or an ExportError naming the malformed one."""

    def bad(what: str) -> ExportError:
        return ExportError(f"{path} is malformed: {what}")

    space = record.get("space")
    if not (
        isinstance(space, dict)
        and isinstance(space.get("name"), str)
        and isinstance(space.get("params", {}), dict)
    ):
        raise bad('"space" must be {"name": str, "params": {...}}')
    if not isinstance(record.get("arch"), dict):
        raise bad('"arch" must be an object of label: choice')
    shape = record.get("input_shape")
    if not (isinstance(shape, list) and shape and all(_is_count(n) for n in shape)):
        raise bad('"input_shape" must be a list of positive integers')
    num_classes = record.get("num_classes")
    if not _is_count(num_classes):
        raise bad('"num_classes" must be a positive integer')
    names = record.get("class_names")
    if names is not None and not (
        isinstance(names, list)
        and len(names) == num_classes
        and all(isinstance(n, str) for n in names)
    ):
        raise bad(f'"class_names" must be null or a list of {num_classes} strings')
    norm = record.get("normalization")
    try:
        if not isinstance(norm, dict):
            raise TypeError("not an object")
        norm_shape = [int(n) for n in norm.get("shape", [len(norm["mean"])])]
        mean: npt.NDArray[np.float32] = np.asarray(norm["mean"], np.float32).reshape(norm_shape)
        std: npt.NDArray[np.float32] = np.asarray(norm["std"], np.float32).reshape(norm_shape)
    except (KeyError, TypeError, ValueError):
        raise bad('"normalization" must be {"mean": [...], "std": [...], "shape": [...]}') from None
    if tuple(mean.shape) != (shape[0],):
        raise bad(f"normalization has shape {mean.shape}, expected ({shape[0]},) for {shape}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std != 0).all()):
        raise bad("normalization mean and std must be finite, with std nonzero")
    train_config = record.get("train_config")
    if train_config is not None and not isinstance(train_config, dict):
        raise bad('"train_config" must be null or an object')
    mean.flags.writeable = False
    std.flags.writeable = False
    preprocessing = record.get("preprocessing")
    if preprocessing is not None and not (
        isinstance(preprocessing, dict) and isinstance(preprocessing.get("kind"), str)
    ):
        raise bad('"preprocessing" must be null or an object with a "kind"')
    return {
        "preprocessing": preprocessing,
        "space_name": space["name"],
        "space_params": space.get("params", {}),
        "arch": record["arch"],
        "input_shape": tuple(int(n) for n in shape),
        "num_classes": int(num_classes),
        "class_names": tuple(names) if names is not None else None,
        "mean": mean,
        "std": std,
        "train_config": train_config,
    }


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _rebuild_space(
    fields: dict[str, Any], folder: Path, consent: SpaceConsent
) -> tuple[SearchSpace, Arch]:
    name = consent.space or fields["space_name"]
    config = {"name": fields["space_name"], "params": fields["space_params"]}
    try:
        space = rebuild_space(config, consent, artifact=folder)
    except ConfigError:
        raise
    except NasforgeError as exc:
        raise ExportError(f"cannot rebuild the search space of {folder}: {exc}") from None
    try:
        arch = space.validate(Arch(fields["arch"]))
    except NasforgeError as exc:
        raise ExportError(
            f"the arch saved in {folder} does not fit space {name!r}: {exc}"
        ) from None
    return space, arch


def _build(
    space: SearchSpace, arch: Arch, input_shape: tuple[int, ...], num_classes: int, where: Path
) -> nn.Module:
    """The network of ``arch``; its random init draws from a forked generator, not the caller's."""
    try:
        with torch.random.fork_rng(devices=[]):
            return space.build(arch, input_shape, num_classes)
    except NasforgeError as exc:
        raise ExportError(f"cannot build the network saved in {where}: {exc}") from None


def _load_weights(
    model: nn.Module, path: Path, space: SearchSpace, arch: Arch, fields: dict[str, Any]
) -> None:
    """Load the file's tensors into ``model`` strictly (safetensors only: no pickle)."""
    try:
        tensors = load_file(path)
        with safetensors.safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (OSError, safetensors.SafetensorError) as exc:
        raise ExportError(f"cannot read {path} as safetensors: {exc}") from None
    try:
        aliases = json.loads(metadata.get(ALIASES_KEY, "{}"))
        for alias, stored in dict(aliases).items():
            tensors[alias] = tensors[stored]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ExportError(f"{path} has malformed tied-tensor metadata") from None
    reference = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    check_matches(tensors, {}, reference, space.format(arch), fields, "saved weights")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExportError(f"the weights in {path} do not fit the network: {first}") from None


def _read_metrics(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    record = read_json(path)
    if not isinstance(record, dict):
        raise ExportError(f"{path} must hold an object of metric name: number")
    metrics: dict[str, float] = {}
    for name, value in record.items():
        if value is None:
            metrics[name] = math.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[name] = float(value)
        else:
            raise ExportError(f"{path}: metric {name!r} is {value!r}, not a number")
    return metrics
