"""`ImageFiles`: a split of a task kept as PNG/JPEG file paths and decoded when examples
are drawn, so that memory does not grow with the dataset.

An `ImageFiles` stands where a task holds an array of images ``(N, 3, size, size)``: it has
the array's ``shape``, ``ndim`` and length, and indexing it (``files[rows]``) decodes those
files with Pillow, converts them to RGB, resizes them to ``size`` x ``size`` (bilinear),
scales pixels to [0, 1] and normalizes them with the task's per-channel ``mean`` and
``std``. ``np.asarray(files)`` decodes every file (for code that needs the whole array).

`nasforge.data.image_loader` serves the same examples to a torch ``DataLoader`` whose
worker processes (``workers``) decode batches while the model trains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.data.task import DataError

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def decode_image(path: str, size: int) -> ByteArray:
    """The pixels ``(size, size, 3)`` of an image file as RGB, resized (bilinear), or a
    one-line `DataError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from None


def image_mode(path: str) -> str:
    """The Pillow mode of an image after checking that it decodes (``RGB``, ``L``, ``RGBA``...),
    or a one-line `DataError` naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            return str(image.mode)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from None


def pixels(paths: Sequence[str], size: int) -> FloatArray:
    """Decoded images ``(N, 3, size, size)`` with pixels in [0, 1], not normalized."""
    out = np.empty((len(paths), 3, size, size), np.float32)
    for row, path in enumerate(paths):
        out[row] = decode_image(path, size).transpose(2, 0, 1)
    out *= 1.0 / 255.0
    return out


@dataclass(frozen=True, eq=False)
class ImageFiles:
    """Images kept as files (see the module docstring). ``workers`` and ``pin_memory`` are
    how a trainer's ``DataLoader`` reads them."""

    paths: tuple[str, ...]
    size: int
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    workers: int = 0
    pin_memory: bool = False

    def __post_init__(self) -> None:
        if self.size < 1:
            raise DataError(f"image size must be >= 1, not {self.size}")
        if self.workers < 0:
            raise DataError(f"--loader-workers must be >= 0, not {self.workers}")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), 3, self.size, self.size)

    @property
    def ndim(self) -> int:
        return 4

    @property
    def dtype(self) -> np.dtype[np.float32]:
        return np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: Any) -> FloatArray:
        """Decoded, normalized examples, indexed like an array of them."""
        rows = np.arange(len(self.paths))[index]
        if np.ndim(rows) == 0:
            one: FloatArray = self.decode([int(rows)])[0]
            return one
        return self.decode(np.asarray(rows).reshape(-1).tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> FloatArray:
        decoded = self.decode(range(len(self.paths)))
        return decoded if dtype is None else np.asarray(decoded, dtype=dtype)

    def decode(self, rows: Iterable[int]) -> FloatArray:
        """The examples at ``rows``, decoded and normalized: ``(len(rows), 3, size, size)``."""
        x = pixels([self.paths[row] for row in rows], self.size)
        mean = np.asarray(self.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.std, np.float32).reshape(1, 3, 1, 1)
        x -= mean
        x /= std
        return x

    def take(self, rows: npt.ArrayLike) -> ImageFiles:
        """The files at ``rows`` (paths only: nothing is decoded)."""
        picked = np.asarray(rows, dtype=np.intp).reshape(-1)
        return replace(self, paths=tuple(self.paths[i] for i in picked.tolist()))

    def plus(self, other: ImageFiles) -> ImageFiles:
        """These files followed by ``other``'s."""
        return replace(self, paths=self.paths + other.paths)
