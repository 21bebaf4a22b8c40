"""Tasks (datasets with splits, input shape and metric) and the loaders that build them."""

from __future__ import annotations

from nasforge.data.loaders import (
    DATA_ENV,
    TASK_NAMES,
    load_csv_task,
    load_digits_task,
    load_mnist1d_task,
    load_npz_task,
    load_task,
    task_from_arrays,
)
from nasforge.data.task import DataError, Task, make_task, stratified_split

__all__ = [
    "DATA_ENV",
    "TASK_NAMES",
    "DataError",
    "Task",
    "load_csv_task",
    "load_digits_task",
    "load_mnist1d_task",
    "load_npz_task",
    "load_task",
    "make_task",
    "stratified_split",
    "task_from_arrays",
]
