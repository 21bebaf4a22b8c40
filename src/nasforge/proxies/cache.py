"""`ScoreCache`: proxy scores kept in a CSV file, so a table can be rebuilt without recomputing.

One row per (architecture, proxy, context): ``arch,proxy,context,score,seconds``. The context
names what else the score depends on (space settings, task, mini-batch seed and size, proxy
seed). Rows are appended and flushed as they are computed; an interrupted write leaves at
most one partial last line, which is ignored when the file is read again. A path ending in
``.gz`` is read and appended to gzip-compressed.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, cast

from nasforge.proxies.base import ProxyError

FIELDS = ("arch", "proxy", "context", "score", "seconds")


class ScoreCache:
    """Proxy scores by (arch text, proxy, context), read from and appended to one CSV file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._scores: dict[tuple[str, str, str], tuple[float, float]] = {}
        if self.path.exists():
            self._read()

    def _open(self, mode: str) -> IO[str]:
        if self.path.suffix == ".gz":
            return cast(IO[str], gzip.open(self.path, mode + "t", newline=""))
        return self.path.open(mode, newline="")

    def _read(self) -> None:
        with self._open("r") as handle:
            reader = csv.reader(_complete_lines(handle))
            header = next(reader, None)
            if header is None:
                return
            if tuple(header) != FIELDS:
                expected = ",".join(FIELDS)
                raise ProxyError(f"{self.path} is not a proxy cache (expected columns {expected})")
            for row in reader:
                if len(row) != len(FIELDS):
                    continue  # a partial last line from an interrupted write
                try:
                    score, seconds = float(row[3]), float(row[4])
                except ValueError:
                    continue
                self._scores[(row[0], row[1], row[2])] = (score, seconds)

    def __len__(self) -> int:
        return len(self._scores)

    def get(self, arch: str, proxy: str, context: str) -> tuple[float, float] | None:
        """(score, seconds) if cached."""
        return self._scores.get((arch, proxy, context))

    def add(self, rows: Iterable[tuple[str, str, str, float, float]]) -> None:
        """Append rows (arch, proxy, context, score, seconds) and flush them to disk."""
        rows = list(rows)
        if not rows:
            return
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._open("a") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(FIELDS)
            for arch, proxy, context, score, seconds in rows:
                writer.writerow((arch, proxy, context, _text(score), f"{seconds:.6f}"))
                self._scores[(arch, proxy, context)] = (score, seconds)
            handle.flush()


def _text(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def _complete_lines(handle: IO[str]) -> Iterable[str]:
    """The lines of ``handle``; a gzip stream cut short by a crash ends the file early."""
    try:
        yield from handle
    except (EOFError, gzip.BadGzipFile):
        return
