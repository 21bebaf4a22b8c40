"""`read_input_file`: raw inputs for a loaded model from a .npz, .npy or .csv file."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.data.task import DataError


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
