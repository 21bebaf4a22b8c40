"""The saved-model folder: the winning architecture with its weights, ready to use.

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
import math
import os
import shutil
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import safetensors
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from nasforge.arch import Arch, Choice
from nasforge.data.task import DataError, Task, apply_normalization
from nasforge.device import autocast, resolve_device, resolve_precision
from nasforge.errors import ConfigError, NasforgeError
from nasforge.export.ensemble_net import EnsembleNet
from nasforge.export.errors import ExportError
from nasforge.export.inputs import InputSpec, RawInputs
from nasforge.export.predictions import Predictions
from nasforge.space.base import SearchSpace
from nasforge.space.loading import is_spec, space_key
from nasforge.space.stored import SpaceConsent, rebuild_space

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

_ALIASES_KEY = "nasforge.aliases"  # safetensors metadata: {alias: stored name} for tied tensors


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


# -- saving ------------------------------------------------------------------------------


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
    _check_matches(
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
    _check_matches(
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
    hyperparameters = _hyperparameters(arch)
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


def _hyperparameters(arch: Arch) -> dict[str, Choice]:
    return {
        label[len(HP_PREFIX) :]: choice
        for label, choice in arch.items()
        if label.startswith(HP_PREFIX)
    }


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
        metadata[_ALIASES_KEY] = json.dumps(aliases)
    return metadata


# -- loading -----------------------------------------------------------------------------


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
    record = _read_json(folder / ARCH_FILE)
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
        hyperparameters=_hyperparameters(arch),
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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ExportError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None


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
        aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
        for alias, stored in dict(aliases).items():
            tensors[alias] = tensors[stored]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ExportError(f"{path} has malformed tied-tensor metadata") from None
    reference = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    _check_matches(tensors, {}, reference, space.format(arch), fields, "saved weights")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExportError(f"the weights in {path} do not fit the network: {first}") from None


def _reference_shapes(space: SearchSpace, arch: Arch, task: Task) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the state dict of the network `load_model` will build."""
    try:
        with torch.random.fork_rng(devices=[]):
            network = space.build(arch, task.input_shape, task.num_classes)
    except NasforgeError as exc:
        raise ExportError(f"cannot save: {exc}") from None
    return {name: tuple(t.shape) for name, t in network.state_dict().items()}


def _check_matches(
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


def _read_metrics(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    record = _read_json(path)
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


# -- inputs ------------------------------------------------------------------------------


def read_input_file(
    path: str | os.PathLike[str], *, label_column: str | None = None, delimiter: str = ","
) -> npt.NDArray[Any]:
    """Raw inputs from a file, for `LoadedModel.predict`.

    ``.npz``: the array ``x``, else ``x_test`` (no pickle); ``.npy`` (no pickle); ``.csv``:
    numeric columns, with an optional header row; ``label_column`` (which needs the header)
    is dropped. Arrays keep their dtype, so uint8 pixels are scaled like the loaders do.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"no such input file: {file}")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return _read_csv(file, label_column, delimiter)
    if label_column is not None:
        raise DataError(f"label_column applies to .csv files only, not {file.name}")
    try:
        if suffix == ".npy":
            return np.asarray(np.load(file, allow_pickle=False))
        if suffix == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                for key in ("x", "x_test"):
                    if key in archive.files:
                        return np.asarray(archive[key])
                keys = ", ".join(archive.files) or "none"
                raise DataError(f"{file} has no array 'x' or 'x_test' (arrays: {keys})")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {file} as {suffix}: {str(exc).splitlines()[0]}") from None
    raise DataError(f"cannot read {file}: expected a .npz, .npy or .csv file")


def _read_csv(file: Path, label_column: str | None, delimiter: str) -> npt.NDArray[np.float32]:
    import csv

    with file.open(newline="") as handle:
        rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
    if not rows:
        raise DataError(f"{file} is empty")
    header: list[str] | None = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]
    drop: int | None = None
    if label_column is not None:
        if header is None:
            raise DataError(f"{file} has no header row, so it has no column {label_column!r}")
        if label_column not in header:
            raise DataError(f"{file} has no column {label_column!r}; columns: {', '.join(header)}")
        drop = header.index(label_column)
    if not rows:
        raise DataError(f"{file} has a header but no rows")
    width = len(header) if header is not None else len(rows[0])
    values: list[list[float]] = []
    for line, row in enumerate(rows, start=2 if header is not None else 1):
        if len(row) != width:
            raise DataError(f"{file} line {line} has {len(row)} fields, expected {width}")
        numbers = []
        for i, cell in enumerate(row):
            if i == drop:
                continue
            if not _is_number(cell):
                column = repr(header[i]) if header is not None else str(i + 1)
                raise DataError(f"{file} line {line}, column {column}: {cell!r} is not a number")
            numbers.append(float(cell))
        values.append(numbers)
    return np.asarray(values, dtype=np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
