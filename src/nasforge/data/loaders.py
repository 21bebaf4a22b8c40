"""Built-in tasks. Every loader reads local files or generates data; none downloads anything.

- ``digits``: scikit-learn's 8x8 digits (ships with scikit-learn), images ``(1, 8, 8)``;
- ``mnist1d``: generated locally by the ``mnist1d`` package, sequences ``(1, 40)``;
- ``cifar10``, ``mnist``, ``fashion_mnist``: ``.npz`` archives with ``x_train, y_train, x_test,
  y_test`` (no pickle), or the official release files: CIFAR-10's ``cifar-10-batches-py``
  (pickles, read with a restricted unpickler that only rebuilds numpy arrays) and the idx files
  of MNIST and Fashion-MNIST (see `nasforge.data.official_formats`);
- ``csv``: a table with a header row and one label column;
- ``images``: PNG/JPEG files in class subfolders or a manifest, streamed from disk
  (`nasforge.data.images`).

`load_task` picks one by name (for the CLI and config files); the Python API can call the
loaders directly or build a task from arrays with `task_from_arrays`.
"""

from __future__ import annotations

import csv
import importlib
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.data.groups import held_out_split
from nasforge.data.official_formats import describe_official, find_official, read_official
from nasforge.data.task import DataError, Task, make_task, stratified_split

DATA_ENV = "NASFORGE_DATA"
"""Environment variable with a folder (or file) to read ``.npz`` datasets from."""

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
LAYOUTS = ("auto", "nchw", "nhwc", "nhw", "ncl", "nf")

# name -> (file names to look for in a data folder, expected input shape after loading)
_NPZ_TASKS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "cifar10": (("cifar10.npz", "cifar10_small.npz"), (3, 32, 32)),
    "mnist": (("mnist.npz",), (1, 28, 28)),
    "fashion_mnist": (("fashion_mnist.npz",), (1, 28, 28)),
}
TASK_NAMES: tuple[str, ...] = (
    "digits",
    "mnist1d",
    *_NPZ_TASKS,
    "csv",
    "text",
    "audio",
    "images",
)


DIGITS_VALID_FRACTION = 0.3
"""The validation share of digits' non-test images: 434 images, not the 144 of a 10% split.

With 144 images many candidates of the main job tied at 99.3-100% validation accuracy (one
image is 0.69 points), so the leaderboard could not rank them; 434 images resolve 0.23 points
and the candidates train on 1,004 images instead of 1,295 (about 20% fewer steps). Measured
in ``docs/benchmarks.md`` ("Trainer throughput", the main job's search signal)."""


def load_digits_task(
    seed: int = 0, *, valid_fraction: float = DIGITS_VALID_FRACTION, test_seed: int = 0
) -> Task:
    """scikit-learn's 1,797 8x8 digits as ``(1, 8, 8)`` images, pixels scaled by 1/16.

    A stratified 20% test split drawn with ``test_seed`` (fixed by default, so test sets agree
    across runs, 359 images); ``seed`` draws the validation split, 30% of the rest by default
    (`DIGITS_VALID_FRACTION`: 1,004 train / 434 valid).
    """
    datasets = _optional_import("sklearn.datasets", "scikit-learn")
    digits = datasets.load_digits()
    x = np.asarray(digits.images, dtype=np.float32)[:, None] / 16.0
    y = np.asarray(digits.target, dtype=np.int64)
    train_idx, test_idx = stratified_split(y, 0.2, test_seed)
    return make_task(
        "digits",
        x[train_idx],
        y[train_idx],
        x[test_idx],
        y[test_idx],
        valid_fraction=valid_fraction,
        seed=seed,
        num_classes=10,
    )


def load_mnist1d_task(seed: int = 0, *, valid_fraction: float = 0.1) -> Task:
    """MNIST-1D (Greydanus 2020) with its default settings: 4,000 train and 1,000 test
    sequences ``(1, 40)``, generated locally and deterministically (``seed`` draws the
    validation split)."""
    data = _optional_import("mnist1d.data", "mnist1d matplotlib")
    # make_dataset seeds the global `random` and `numpy.random` generators: put them back.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        generated = data.make_dataset(data.get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return make_task(
        "mnist1d",
        np.asarray(generated["x"], dtype=np.float32)[:, None],
        generated["y"],
        np.asarray(generated["x_test"], dtype=np.float32)[:, None],
        generated["y_test"],
        valid_fraction=valid_fraction,
        seed=seed,
        num_classes=10,
    )


def load_npz_task(
    name: str,
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    valid_fraction: float = 0.1,
    layout: str = "auto",
) -> Task:
    """A task from an ``.npz`` archive holding ``x_train, y_train, x_test, y_test``.

    ``layout`` names the axes of ``x_*``: ``nchw``, ``nhwc`` (CIFAR-style), ``nhw`` (grayscale,
    MNIST-style), ``ncl`` (sequences) or ``nf`` (tables). ``auto`` reads 2-D arrays as tables,
    3-D as grayscale images and 4-D as ``nhwc`` when the last axis has at most 4 entries and
    the second more than 4, else as ``nchw``. uint8 pixels are scaled by 1/255.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"no such data file: {file}")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{file} lacks {', '.join(missing)}; an .npz task needs {', '.join(NPZ_KEYS)}"
                )
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {file} as an .npz archive: {exc}") from None
    return _split_arrays_task(name, arrays, seed, valid_fraction, layout)


def load_official_task(
    name: str,
    folder: str | os.PathLike[str],
    *,
    seed: int = 0,
    valid_fraction: float = 0.1,
    layout: str = "auto",
) -> Task:
    """Task ``name`` (``cifar10``, ``mnist`` or ``fashion_mnist``) from its official release
    files in ``folder``, turned into a task exactly like the equivalent ``.npz`` archive."""
    arrays = read_official(name, Path(folder).expanduser())
    return _split_arrays_task(name, arrays, seed, valid_fraction, layout)


def load_csv_task(
    path: str | os.PathLike[str],
    label_column: str = "label",
    *,
    name: str | None = None,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 0,
    delimiter: str = ",",
    group_column: str | None = None,
) -> Task:
    """A table with a header row: every column but ``label_column`` (and ``group_column``)
    is a numeric feature.

    Integer labels are used as class ids; any other labels become ids in sorted order (kept
    as ``class_names``). Test and validation sets are stratified splits drawn with ``seed``;
    with ``group_column`` (a speaker, a patient... per row) they take whole groups instead
    (`nasforge.data.groups`).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"no such data file: {file}")
    with file.open(newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{file} is empty; expected a header row")
        header = [column.strip() for column in header]
        if label_column not in header:
            raise DataError(f"{file} has no column {label_column!r}; columns: {', '.join(header)}")
        label_at = header.index(label_column)
        group_at = _group_column_at(file, header, group_column, label_column)
        skipped = {label_at} if group_at is None else {label_at, group_at}
        features: list[list[float]] = []
        labels: list[str] = []
        groups: list[str] = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{file} line {line} has {len(row)} fields, the header has {len(header)}"
                )
            labels.append(row[label_at].strip())
            if group_at is not None:
                groups.append(row[group_at].strip())
            features.append(_floats(row, skipped, header, f"{file} line {line}"))
    if not labels:
        raise DataError(f"{file} has a header but no rows")
    y, class_names = _encode_labels(labels)
    return task_from_arrays(
        name or file.stem,
        np.asarray(features, dtype=np.float32),
        y,
        test_fraction=test_fraction,
        valid_fraction=valid_fraction,
        seed=seed,
        class_names=class_names,
        groups=groups if group_at is not None else None,
    )


def _group_column_at(
    file: Path, header: list[str], group_column: str | None, label_column: str
) -> int | None:
    """Where ``group_column`` is in ``header`` (None without one), or a `DataError`."""
    if group_column is None:
        return None
    if group_column not in header:
        raise DataError(
            f"{file} has no group column {group_column!r}; columns: {', '.join(header)}"
        )
    if group_column == label_column:
        raise DataError(f"the group column {group_column!r} is the label column")
    return header.index(group_column)


def task_from_arrays(
    name: str,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 0,
    num_classes: int | None = None,
    class_names: tuple[str, ...] | None = None,
    groups: npt.ArrayLike | None = None,
) -> Task:
    """A task from one labelled array: stratified test and validation splits drawn with ``seed``
    (of whole groups with ``groups``, one per example: see `nasforge.data.groups`).

    ``x`` is already in model layout (``(N, F)``, ``(N, C, L)`` or ``(N, C, H, W)``). With a
    separate test set, call `make_task` instead.
    """
    xa, ya = np.asarray(x), np.asarray(y)
    if len(xa) != len(ya):
        raise DataError(f"x has {len(xa)} rows but y has {len(ya)}")
    if len(ya) == 0:
        raise DataError("x and y are empty")
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    group_array = None if groups is None else np.asarray(groups).astype(str)
    if group_array is not None and len(group_array) != len(ya):
        raise DataError(f"{len(group_array)} groups for {len(ya)} examples")
    train_idx, test_idx = held_out_split(ya, group_array, test_fraction, seed)
    return make_task(
        name,
        xa[train_idx],
        ya[train_idx],
        xa[test_idx],
        ya[test_idx],
        valid_fraction=valid_fraction,
        seed=seed,
        num_classes=num_classes,
        class_names=class_names,
        groups=None if group_array is None else group_array[train_idx],
    )


def load_task(
    name: str, data_path: str | os.PathLike[str] | None = None, *, seed: int = 0, **options: Any
) -> Task:
    """A built-in task by name (see `TASK_NAMES`).

        The ``.npz`` tasks read ``data_path`` (a file, or a folder holding e.g. ``cifar10.npz``),
        else the folder or file in ``$NASFORGE_DATA``. A folder without the ``.npz`` file may hold
        the official release instead: ``cifar-10-batches-py`` (or be it), or the four idx files of
        MNIST / Fashion-MNIST (``.gz`` or not), also in a ``mnist/``, ``fashion_mnist/``,
        ``MNIST/raw/`` or ``FashionMNIST/raw/`` subfolder. ``csv`` and ``text`` need ``data_path``
        to be the file (the text formats: `nasforge.data.text`), ``audio`` a folder or manifest
        (`nasforge.data.audio`), ``images`` a folder of class subfolders or a manifest
    (`nasforge.data.images`). Other keyword options go to the loader (e.g. ``label_column``
        for ``csv``, ``test_path`` and ``fine`` for ``text``, ``label_pattern`` for ``audio``).
    """
    if name == "digits":
        return load_digits_task(seed, **options)
    if name == "mnist1d":
        return load_mnist1d_task(seed, **options)
    if name == "csv":
        if data_path is None:
            raise DataError("the csv task needs data_path: the .csv file to read")
        return load_csv_task(data_path, seed=seed, **options)
    if name == "text":
        from nasforge.data.text import load_text_task

        if data_path is None:
            raise DataError(
                "the text task needs a file of labelled texts (--data FILE): csv/tsv, "
                "fastText or TREC lines"
            )
        return load_text_task(Path(data_path), seed=seed, **options)
    if name == "audio":
        from nasforge.data.audio import load_audio_task

        if data_path is None:
            raise DataError(
                "the audio task needs --data: a folder of class subfolders, a folder of .wav "
                "files with --label-pattern, or a manifest.csv (path,label[,split])"
            )
        return load_audio_task(Path(data_path), seed=seed, **options)
    if name == "images":
        from nasforge.data.images import load_image_task

        if data_path is None:
            raise DataError(
                "the images task needs --data: a folder of class subfolders (FOLDER/CLASS/*.png, "
                "optionally under train/ and test/) or a manifest.csv (path,label[,split][,group])"
            )
        return load_image_task(Path(data_path), seed=seed, **options)
    if name not in _NPZ_TASKS:
        raise DataError(f"unknown task {name!r}; choose from {', '.join(TASK_NAMES)}")
    file_names, expected_shape = _NPZ_TASKS[name]
    found = _find_npz(name, file_names, data_path)
    if found.is_dir():  # no .npz there, but a folder with the official files
        task = load_official_task(name, found, seed=seed, **options)
    else:
        task = load_npz_task(name, found, seed=seed, **options)
    if task.input_shape != expected_shape:
        raise DataError(
            f"{name} inputs have shape {task.input_shape}, expected {expected_shape} per example"
        )
    return task


# -- helpers -----------------------------------------------------------------------------


def _find_npz(
    name: str, file_names: tuple[str, ...], data_path: str | os.PathLike[str] | None
) -> Path:
    """The ``.npz`` file to read, else the folder with the task's official files."""
    where = data_path if data_path is not None else os.environ.get(DATA_ENV)
    if not where:
        raise DataError(
            f"{name} needs a data file: pass data_path or set {DATA_ENV} to a folder holding "
            f"{' or '.join(file_names)} or {describe_official(name)}"
        )
    base = Path(where).expanduser()
    if not base.is_dir():
        return base  # a file path; load_npz_task says if it is missing
    for file_name in file_names:
        if (base / file_name).is_file():
            return base / file_name
    official = find_official(name, base)
    if official is not None:
        return official
    raise DataError(f"no {' or '.join(file_names)} in {base}, nor {describe_official(name)}")


def _split_arrays_task(
    name: str, arrays: dict[str, Any], seed: int, valid_fraction: float, layout: str
) -> Task:
    """A task from ``x_train, y_train, x_test, y_test`` as stored (pixels possibly uint8 HWC)."""
    return make_task(
        name,
        to_model_layout(arrays["x_train"], layout, "x_train"),
        arrays["y_train"],
        to_model_layout(arrays["x_test"], layout, "x_test"),
        arrays["y_test"],
        valid_fraction=valid_fraction,
        seed=seed,
    )


def to_model_layout(x: npt.NDArray[Any], layout: str, key: str) -> npt.NDArray[np.float32]:
    """Pixels or values as float32 in ``(N, C, ...)`` order; uint8 scaled to [0, 1]."""
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = _guess_layout(x.shape, key)
    ndims = {"nchw": 4, "nhwc": 4, "nhw": 3, "ncl": 3, "nf": 2}[layout]
    if x.ndim != ndims:
        raise DataError(f"{key} has shape {x.shape}, which is not {layout.upper()}")
    out = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if layout == "nhwc":
        out = out.transpose(0, 3, 1, 2)
    elif layout == "nhw":
        out = out[:, None]
    return np.ascontiguousarray(out)


def _guess_layout(shape: tuple[int, ...], key: str) -> str:
    if len(shape) == 2:
        return "nf"
    if len(shape) == 3:
        return "nhw"
    if len(shape) == 4:
        return "nhwc" if shape[3] <= 4 < shape[1] else "nchw"
    raise DataError(f"{key} has shape {shape}; expected 2-D (tables), 3-D or 4-D (images)")


def _floats(row: list[str], skip: set[int], header: list[str], where: str) -> list[float]:
    values = []
    for i, text in enumerate(row):
        if i in skip:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise DataError(f"{where}, column {header[i]!r}: {text!r} is not a number") from None
    return values


def _encode_labels(labels: list[str]) -> tuple[npt.NDArray[np.int64], tuple[str, ...] | None]:
    """Integer labels as they are; any other labels as ids in sorted order, with their names."""
    try:
        return np.asarray([int(label) for label in labels], dtype=np.int64), None
    except ValueError:
        names = tuple(sorted(set(labels)))
        ids = {label: i for i, label in enumerate(names)}
        return np.asarray([ids[label] for label in labels], dtype=np.int64), names


def _optional_import(module: str, package: str) -> Any:
    """Import an optional dependency (typed as Any), or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DataError(f"this task needs {package} ({exc}): pip install {package}") from None
