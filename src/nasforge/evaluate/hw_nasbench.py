"""HW-NAS-Bench (Li et al., ICLR 2021) device measurements joined to the NB201 table.

`hw_nasbench201.csv.gz` holds, for all 15,625 NB201 cells and each dataset, the latency and
energy measured on an edge GPU (Jetson TX2), a Raspberry Pi 4, an Edge TPU, a Pixel 3, and
estimated for the Eyeriss accelerator and an FPGA. Joined by arch string, its columns become
metrics of the tabular evaluator named like the table's own ``latency_ms_edgegpu_cifar10``:

- ``latency_ms_{device}_{dataset}`` (milliseconds),
- ``energy_mj_{device}_{dataset}`` (millijoules: edgegpu, eyeriss, fpga),
- ``arithmetic_intensity_eyeriss_{dataset}``,

with ``device`` one of `DEVICES` and ``dataset`` cifar10, cifar100 or imagenet16; e.g.
``nasforge search --benchmark nb201.csv --objective valid_acc --objective
latency_ms_raspi4_cifar10:min``. A column the NB201 table already has keeps the table's
values. The file is found beside nb201.csv, or at ``$NASFORGE_HW_NB201``.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import re
from pathlib import Path

import numpy as np

from nasforge.errors import BenchmarkError

FILE_NAME = "hw_nasbench201.csv.gz"
ENV_VAR = "NASFORGE_HW_NB201"
DEVICES = ("edgegpu", "raspi4", "edgetpu", "pixel3", "eyeriss", "fpga")
_COLUMN = re.compile(
    r"^(?P<device>[a-z0-9]+)_(?P<kind>latency|energy|arithmetic_intensity)_(?P<dataset>\w+)$"
)
_PREFIX = {
    "latency": "latency_ms",
    "energy": "energy_mj",
    "arithmetic_intensity": "arithmetic_intensity",
}


def metric_name(column: str) -> str | None:
    """The metric name of a HW-NAS-Bench column (``raspi4_latency_cifar10`` ->
    ``latency_ms_raspi4_cifar10``); None for a column that is not a measurement."""
    match = _COLUMN.match(column)
    if match is None or match["device"] not in DEVICES:
        return None
    return f"{_PREFIX[match['kind']]}_{match['device']}_{match['dataset']}"


def find_hw_table(nb201_csv: Path) -> Path | None:
    """``$NASFORGE_HW_NB201`` if set (it must exist), else the file beside nb201.csv."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise BenchmarkError(f"{ENV_VAR}={env}: no such file")
        return path
    beside = nb201_csv.with_name(FILE_NAME)
    return beside if beside.is_file() else None


def read_hw_columns(path: Path, arch_strings: list[str]) -> dict[str, np.ndarray]:
    """The measurement columns of `path`, as metric name -> values in `arch_strings` order."""
    try:
        with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = next(rows, None)
            if not header or "arch" not in header:
                raise BenchmarkError(f"HW-NAS-Bench file {path} lacks columns: arch")
            named = [(k, metric_name(column)) for k, column in enumerate(header)]
            wanted = [(k, name) for k, name in named if name is not None]
            arch_col = header.index("arch")
            by_arch = {}
            for line, row in enumerate(rows, start=2):
                if len(row) != len(header):
                    raise BenchmarkError(
                        f"HW-NAS-Bench file {path} line {line}: {len(row)} fields where the "
                        f"header has {len(header)}"
                    )
                by_arch[row[arch_col]] = [float(row[k]) if row[k] else math.nan for k, _ in wanted]
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise BenchmarkError(f"cannot read HW-NAS-Bench file {path}: {exc}") from None
    missing = [text for text in arch_strings if text not in by_arch]
    if missing:
        raise BenchmarkError(
            f"HW-NAS-Bench file {path} lacks {len(missing)} of the table's archs, e.g. {missing[0]}"
        )
    matrix = np.asarray([by_arch[text] for text in arch_strings], dtype=np.float64)
    return {name: matrix[:, j].copy() for j, (_, name) in enumerate(wanted)}
