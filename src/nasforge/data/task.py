"""`Task`: a classification dataset split into train/valid/test, with its input shape and metric.

Inputs are float32 with the batch axis first: images ``(N, C, H, W)``, sequences ``(N, C, L)``,
tables ``(N, F)``. Labels are int64 class ids in ``[0, num_classes)``. `make_task` checks raw
arrays, splits off a stratified validation set and normalizes with statistics of the training
split only (per channel for images and sequences, per feature for tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from nasforge.errors import NasforgeError

if TYPE_CHECKING:
    from nasforge.data.image_files import ImageFiles

FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
_A = TypeVar("_A", bound=npt.NDArray[Any])


class DataError(NasforgeError, ValueError):
    """A dataset file or array is missing, malformed or inconsistent."""


@dataclass(frozen=True, eq=False)
class Task:
    """A dataset ready for training: normalized float32 inputs and int64 labels per split.

    ``mean`` and ``std`` are what the inputs were normalized with (one value per channel, or
    per feature for tables); `normalize` applies them to new raw inputs for prediction.
    The inputs of a split are an array in memory, or `ImageFiles` decoded as they are drawn
    (an image task: `nasforge.data.images`; see `streams`).
    """

    name: str
    x_train: FloatArray | ImageFiles
    y_train: LabelArray
    x_valid: FloatArray | ImageFiles
    y_valid: LabelArray
    x_test: FloatArray | ImageFiles
    y_test: LabelArray
    num_classes: int
    mean: FloatArray
    std: FloatArray
    metric: str = "accuracy"
    class_names: tuple[str, ...] | None = None
    preprocessing: Mapping[str, Any] | None = None
    """How raw inputs became ``x`` when that is more than normalization (JSON): a text
    task's tokenizer (``{"kind": "text", "vocabulary": [...], ...}``); saved with a model."""
    valid_groups: tuple[str, ...] = ()
    """With a group per example: the groups of the validation split, none of which trains
    (`make_task` with ``groups``); empty without groups."""
    notes: tuple[str, ...] = ()
    """What loading noticed and the user should hear (files left out, modes converted)."""

    def __post_init__(self) -> None:
        shape = self.input_shape
        for split in ("train", "valid", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.shape[1:] != shape:
                raise DataError(
                    f"task {self.name!r}: x_{split} has example shape {x.shape[1:]}, "
                    f"x_train has {shape}"
                )
            if len(x) != len(y):
                raise DataError(
                    f"task {self.name!r}: x_{split} has {len(x)} rows but y_{split} has {len(y)}"
                )
            if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
                raise DataError(
                    f"task {self.name!r}: y_{split} has labels outside [0, {self.num_classes})"
                )
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise DataError(
                f"task {self.name!r}: {len(self.class_names)} class names for "
                f"{self.num_classes} classes"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example, without the batch axis."""
        return tuple(int(n) for n in self.x_train.shape[1:])

    @property
    def streams(self) -> bool:
        """Whether the inputs are files decoded as batches are drawn (`ImageFiles`)."""
        return not isinstance(self.x_train, np.ndarray)

    @property
    def vocabulary_size(self) -> int | None:
        """The number of token ids of a text task (None for other inputs)."""
        if self.preprocessing is None or self.preprocessing.get("kind") != "text":
            return None
        return len(self.preprocessing["vocabulary"])

    def with_preprocessing(self, preprocessing: Mapping[str, Any]) -> Task:
        return replace(self, preprocessing=dict(preprocessing))

    def for_final_training(self) -> Task:
        """The task whose training split also holds the validation examples (with validation
        groups: every training group), to retrain a winner on all its training data once the
        search has chosen it, as DARTS's final training does; the task itself when it has no
        validation examples. Its validation split is then no longer held out."""
        if not len(self.y_valid):
            return self
        from nasforge.data.image_files import ImageFiles

        if isinstance(self.x_train, ImageFiles) and isinstance(self.x_valid, ImageFiles):
            return replace(
                self,
                x_train=self.x_train.plus(self.x_valid),
                y_train=_frozen(np.concatenate([self.y_train, self.y_valid])),
            )
        return replace(
            self,
            x_train=_frozen(np.concatenate([self.x_train, self.x_valid])),
            y_train=_frozen(np.concatenate([self.y_train, self.y_valid])),
        )

    def normalize(self, x: npt.ArrayLike) -> FloatArray:
        """Raw inputs (same layout and scale as given to `make_task`) normalized like training."""
        return apply_normalization(np.asarray(x, dtype=np.float32), self.mean, self.std)

    def summary(self) -> str:
        """One line: name, split sizes, input shape and classes."""
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_valid)} valid / "
            f"{len(self.y_test)} test, input {self.input_shape}, {self.num_classes} classes"
        )


def make_task(
    name: str,
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    x_test: npt.ArrayLike,
    y_test: npt.ArrayLike,
    *,
    valid_fraction: float = 0.1,
    seed: int = 0,
    num_classes: int | None = None,
    normalize: bool = True,
    class_names: tuple[str, ...] | None = None,
    groups: npt.ArrayLike | None = None,
) -> Task:
    """Check raw arrays, split a stratified validation set off the training data, normalize.

    The split depends only on ``y_train``, ``valid_fraction`` and ``seed``. Mean and std come
    from the remaining training examples only; a constant channel gets std 1. With
    ``groups`` (one per training example: a speaker, a patient...), the validation split
    takes whole groups instead (`nasforge.data.groups.group_split`), named in the task's
    ``valid_groups``.
    """
    xtr, ytr = _check_pair(x_train, y_train, "train")
    xte, yte = _check_pair(x_test, y_test, "test")
    if xte.shape[1:] != xtr.shape[1:]:
        raise DataError(f"x_test has example shape {xte.shape[1:]} but x_train has {xtr.shape[1:]}")
    if num_classes is None:
        num_classes = int(max(ytr.max(), yte.max())) + 1
    if num_classes < 2:
        raise DataError(f"a classification task needs at least 2 classes, not {num_classes}")
    for split, y in (("train", ytr), ("test", yte)):
        if y.min() < 0 or y.max() >= num_classes:
            raise DataError(
                f"y_{split} has labels in [{y.min()}, {y.max()}], outside [0, {num_classes})"
            )
    valid_groups: tuple[str, ...] = ()
    if groups is None:
        train_idx, valid_idx = stratified_split(ytr, valid_fraction, seed)
    else:
        from nasforge.data.groups import group_names, group_split

        train_idx, valid_idx = group_split(ytr, groups, valid_fraction, seed)
        valid_groups = group_names(groups, valid_idx)
    x_fit, x_val = xtr[train_idx], xtr[valid_idx]
    if normalize:
        mean, std = channel_stats(x_fit)
    else:
        channels = x_fit.shape[1]
        mean, std = np.zeros(channels, np.float32), np.ones(channels, np.float32)
    return Task(
        name=name,
        x_train=_frozen(apply_normalization(x_fit, mean, std)),
        y_train=_frozen(ytr[train_idx]),
        x_valid=_frozen(apply_normalization(x_val, mean, std)),
        y_valid=_frozen(ytr[valid_idx]),
        x_test=_frozen(apply_normalization(xte, mean, std)),
        y_test=_frozen(yte),
        num_classes=num_classes,
        mean=_frozen(mean),
        std=_frozen(std),
        class_names=class_names,
        valid_groups=valid_groups,
    )


def stratified_split(y: npt.ArrayLike, fraction: float, seed: int) -> tuple[IndexArray, IndexArray]:
    """Sorted indices ``(kept, split_off)``: about ``fraction`` of each class is split off.

    Each class gives ``round(fraction * count)`` examples (a class with one example gives none);
    a fixed seed gives the same split on every machine.
    """
    labels = np.asarray(y)
    if not 0.0 < fraction < 1.0:
        raise DataError(f"split fraction must be in (0, 1), not {fraction}")
    rng = np.random.default_rng(seed)
    taken: list[IndexArray] = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        count = round(fraction * len(members)) if len(members) > 1 else 0
        taken.append(rng.permutation(members)[:count])
    split_off = np.sort(np.concatenate(taken)).astype(np.intp)
    if len(split_off) == 0 or len(split_off) == len(labels):
        raise DataError(
            f"a split fraction of {fraction} of {len(labels)} examples leaves an empty split"
        )
    kept = np.setdiff1d(np.arange(len(labels)), split_off).astype(np.intp)
    return kept, split_off


def channel_stats(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and std over every axis except axis 1 (channels or features); std 0 becomes 1."""
    axes = (0, *range(2, x.ndim))
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def apply_normalization(x: FloatArray, mean: FloatArray, std: FloatArray) -> FloatArray:
    if x.ndim < 2 or x.shape[1] != len(mean):
        raise DataError(
            f"inputs of shape {x.shape} do not match the {len(mean)} normalized channels"
        )
    shape = (1, len(mean)) + (1,) * (x.ndim - 2)
    return ((x - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


def _check_pair(x: npt.ArrayLike, y: npt.ArrayLike, split: str) -> tuple[FloatArray, LabelArray]:
    """Inputs as float32 and labels as int64, or a one-line `DataError` naming the problem."""
    try:
        xa = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"x_{split} is not a numeric array: {exc}") from None
    ya = np.asarray(y)
    if xa.size == 0 or len(xa) == 0:
        raise DataError(f"x_{split} is empty")
    if xa.ndim < 2:
        raise DataError(f"x_{split} needs shape (N, features...), got {xa.shape}")
    if ya.ndim != 1:
        raise DataError(f"y_{split} must be 1-D class ids, got shape {ya.shape}")
    if len(xa) != len(ya):
        raise DataError(f"x_{split} has {len(xa)} rows but y_{split} has {len(ya)}")
    if not np.isfinite(xa).all():
        bad = int((~np.isfinite(xa)).any(axis=tuple(range(1, xa.ndim))).sum())
        raise DataError(f"x_{split} has NaN or infinite values in {bad} rows")
    return xa, _as_labels(ya, split)


def _as_labels(y: npt.NDArray[Any], split: str) -> LabelArray:
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        return y.astype(np.int64)
    raise DataError(f"y_{split} must hold integer class ids, got dtype {y.dtype}")


def _frozen(a: _A) -> _A:
    """`a` made read-only (a contiguous copy if it was not contiguous)."""
    frozen: _A = np.ascontiguousarray(a)  # type: ignore[assignment]
    frozen.flags.writeable = False
    return frozen
