"""Image tasks: PNG/JPEG files in class subfolders or listed in a manifest, streamed from
disk as batches are drawn (`nasforge.data.image_files`).

Three layouts, told apart by ``data``:

- a folder with one subfolder per class (ImageNet's layout: ``data/cat/*.png``);
- the same under ``data/train/`` and ``data/test/``: the test split;
- a CSV manifest with a header ``path,label[,split][,group]`` (paths relative to the
  manifest; ``split`` is ``train`` or ``test``).

The test set: ``test/``, the manifest's ``split`` column, else a stratified ``test_fraction``
(every class then needs two images). A group per image (a patient, a camera), from the
manifest's ``group`` column (or ``group_column``) or from the file name by ``group_pattern``,
makes the validation split (and a ``test_fraction`` split) take whole groups
(`nasforge.data.groups`). Every file is decoded once when the task is loaded, so that a file
that does not decode is named before anything trains (``skip_bad_files`` leaves it out, with
a note instead); images that are not RGB are converted to RGB (a note says how many). The
inputs are ``(3, image_size, image_size)``, normalized per channel with the mean and std of
a sample of ``stats_sample`` training images.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from nasforge.data.groups import group_names, groups_from_names, held_out_split
from nasforge.data.image_files import IMAGE_SUFFIXES, ImageFiles, image_mode, pixels
from nasforge.data.task import DataError, Task, channel_stats, stratified_split

STATS_SAMPLE = 500
"""Training images whose pixels give the normalization statistics."""
IndexArray = npt.NDArray[np.intp]
_A = TypeVar("_A", bound=npt.NDArray[Any])


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: str
    test: bool | None  # None: not decided by the layout
    group: str | None = None


def image_files_in(folder: Path) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_inputs(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted), to predict."""
    where = Path(path).expanduser()
    if where.is_dir():
        files = image_files_in(where)
        if not files:
            raise DataError(f"no .png/.jpg/.jpeg files in {where}")
        return files
    if not where.is_file():
        raise DataError(f"no such image file or folder: {where}")
    return [where]


def find_images(
    data: str | Path, *, group_column: str | None = None, group_pattern: str | None = None
) -> list[LabelledImage]:
    """The labelled images of a class-per-folder tree (with or without ``train/`` and
    ``test/``) or a manifest, sorted by path, with their groups."""
    root = Path(data).expanduser()
    if not root.exists():
        raise DataError(f"no such image folder or manifest: {root}")
    if group_column is not None and group_pattern is not None:
        raise DataError("choose --group-column or --group-pattern, not both")
    if root.is_file():
        images = _from_manifest(root, group_column)
    else:
        if group_column is not None:
            raise DataError(
                f"--group-column {group_column!r} names a column of a manifest; {root} is a "
                "folder (for file names use --group-pattern REGEX)"
            )
        train, test = root / "train", root / "test"
        if train.is_dir() and test.is_dir():
            images = _from_subfolders(train, False) + _from_subfolders(test, True)
        else:
            images = _from_subfolders(root, None)
    if group_pattern is not None:
        found = groups_from_names([i.path.name for i in images], group_pattern, "--group-pattern")
        images = [replace(i, group=g) for i, g in zip(images, found, strict=True)]
    return sorted(images, key=lambda i: str(i.path))


def _from_subfolders(folder: Path, test: bool | None) -> list[LabelledImage]:
    images = [
        LabelledImage(file, sub.name, test)
        for sub in sorted(p for p in folder.iterdir() if p.is_dir())
        for file in image_files_in(sub)
    ]
    if not images:
        raise DataError(
            f"no images in class subfolders of {folder}: it needs FOLDER/CLASS/*.png|jpg|jpeg "
            "(or a manifest.csv with path,label)"
        )
    return images


def _from_manifest(manifest: Path, group_column: str | None) -> list[LabelledImage]:
    with manifest.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise DataError(
                f"{manifest} is not an image manifest: it needs a header "
                f"path,label[,split][,group], not {','.join(columns) or 'nothing'}"
            )
        if group_column is not None and group_column not in columns:
            raise DataError(
                f"{manifest} has no group column {group_column!r}; columns: {', '.join(columns)}"
            )
        group_at = group_column or ("group" if "group" in columns else None)
        images = []
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not row.get("path") or not row.get("label"):
                raise DataError(f"{manifest} line {number} needs a path and a label")
            split = row.get("split", "").lower()
            if split not in ("", "train", "test"):
                raise DataError(f"{manifest} line {number}: split is train or test, not {split!r}")
            path = Path(row["path"])
            path = path if path.is_absolute() else manifest.parent / path
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataError(f"{manifest} line {number}: {path.name} is not a .png/.jpg/.jpeg")
            group = row.get(group_at, "") if group_at else None
            if group_at is not None and not group:
                raise DataError(f"{manifest} line {number} has no group in {group_at!r}")
            images.append(
                LabelledImage(path, row["label"], (split == "test") if split else None, group)
            )
    if not images:
        raise DataError(f"{manifest} lists no images")
    return images


def check_images(
    images: list[LabelledImage], *, skip_bad_files: bool = False
) -> tuple[list[LabelledImage], list[str]]:
    """The images that decode, and notes: files left out (``skip_bad_files``; else the first
    bad file is a `DataError`) and modes converted to RGB."""
    kept, bad, modes = [], [], Counter[str]()
    for image in images:
        try:
            modes[image_mode(str(image.path))] += 1
        except DataError as exc:
            if not skip_bad_files:
                raise DataError(f"{exc} (--skip-bad-files leaves such files out)") from None
            bad.append(image.path)
            continue
        kept.append(image)
    notes = []
    if bad:
        notes.append(
            f"left out {len(bad)} image file{'s' if len(bad) > 1 else ''} that do not decode "
            f"(e.g. {bad[0]})"
        )
    converted = {mode: n for mode, n in modes.items() if mode != "RGB"}
    if converted:
        shown = ", ".join(f"{n} {mode}" for mode, n in sorted(converted.items()))
        notes.append(f"converted {shown} images to RGB")
    return kept, notes


def load_image_task(
    data: str | Path,
    *,
    image_size: int = 32,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 0,
    name: str | None = None,
    group_column: str | None = None,
    group_pattern: str | None = None,
    skip_bad_files: bool = False,
    loader_workers: int = 0,
    pin_memory: bool = False,
    stats_sample: int = STATS_SAMPLE,
) -> Task:
    """An image classification task whose splits stream from the files (see the module
    docstring); class ids follow the sorted label names."""
    if image_size < 1:
        raise DataError(f"--image-size must be >= 1, not {image_size}")
    if loader_workers < 0:
        raise DataError(f"--loader-workers must be >= 0, not {loader_workers}")
    found = find_images(data, group_column=group_column, group_pattern=group_pattern)
    images, notes = check_images(found, skip_bad_files=skip_bad_files)
    if not images:
        raise DataError(f"none of the {len(found)} images in {data} decodes")
    labels = np.array([i.label for i in images])
    grouped = group_column is not None or group_pattern is not None or images[0].group is not None
    groups = np.array([str(i.group) for i in images]) if grouped else None
    decided = [i.test for i in images]
    if all(flag is None for flag in decided):
        _check_two_per_class(images, labels)
        class_ids = np.unique(labels, return_inverse=True)[1]
        train_idx, test_idx = held_out_split(class_ids, groups, test_fraction, seed)
    else:
        test_idx = np.flatnonzero([bool(f) for f in decided]).astype(np.intp)
        train_idx = np.flatnonzero([not f for f in decided]).astype(np.intp)
        if not len(test_idx) or not len(train_idx):
            raise DataError(
                f"the manifest puts {len(test_idx)} of {len(images)} images in the test set; "
                "it needs some in each split (or no split column)"
            )
    class_names = tuple(sorted(set(labels[train_idx].tolist())))
    if len(class_names) < 2:
        raise DataError(f"the images in {data} have one label; a task needs at least 2")
    unseen = sorted(set(labels[test_idx].tolist()) - set(class_names))
    if unseen:
        raise DataError(f"test labels {', '.join(unseen[:3])} have no training images")
    index = {label: i for i, label in enumerate(class_names)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    train_groups = None if groups is None else groups[train_idx]
    fit_idx, valid_idx = _valid_split(y[train_idx], train_groups, valid_fraction, seed)
    fit_idx, valid_idx = train_idx[fit_idx], train_idx[valid_idx]
    files = ImageFiles(
        tuple(str(i.path) for i in images),
        image_size,
        workers=loader_workers,
        pin_memory=pin_memory,
    )
    mean, std = _sample_stats(files, fit_idx, stats_sample, seed)
    files = replace(files, mean=tuple(mean.tolist()), std=tuple(std.tolist()))
    preprocessing = {"kind": "images", "image_size": image_size}
    return Task(
        name=name or Path(data).expanduser().stem,
        x_train=files.take(fit_idx),
        y_train=_frozen(y[fit_idx]),
        x_valid=files.take(valid_idx),
        y_valid=_frozen(y[valid_idx]),
        x_test=files.take(test_idx),
        y_test=_frozen(y[test_idx]),
        num_classes=len(class_names),
        mean=_frozen(mean),
        std=_frozen(std),
        class_names=class_names,
        preprocessing=preprocessing,
        valid_groups=() if groups is None else group_names(groups, valid_idx),
        notes=tuple(notes),
    )


def _check_two_per_class(images: list[LabelledImage], labels: npt.NDArray[Any]) -> None:
    """A stratified test split needs two images of every class."""
    counts = Counter(labels.tolist())
    single = sorted(label for label, n in counts.items() if n < 2)
    if single:
        where = next(i.path for i in images if i.label == single[0])
        raise DataError(
            f"class {single[0]!r} has one image ({where}); a test split drawn per class needs "
            "at least 2 (add images, or give the test set: a test/ folder or a manifest split)"
        )


def _valid_split(
    y: npt.NDArray[np.int64], groups: npt.NDArray[Any] | None, fraction: float, seed: int
) -> tuple[IndexArray, IndexArray]:
    if groups is None:
        return stratified_split(y, fraction, seed)
    return held_out_split(y, groups, fraction, seed)


def _sample_stats(
    files: ImageFiles, rows: IndexArray, count: int, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-channel mean and std of up to ``count`` training images drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(rows, min(count, len(rows)), replace=False))
    return channel_stats(pixels([files.paths[i] for i in picked.tolist()], files.size))


def _frozen(a: _A) -> _A:
    out: _A = np.ascontiguousarray(a)  # type: ignore[assignment]
    out.flags.writeable = False
    return out
