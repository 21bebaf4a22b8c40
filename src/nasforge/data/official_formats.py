"""Readers for the official release formats of CIFAR-10, MNIST and Fashion-MNIST.

- CIFAR-10's ``cifar-10-batches-py``: ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``,
  Python pickles of dicts ``{b"data": uint8 (N, 3072) CHW rows, b"labels": [int], ...}``. They
  are read with `CifarUnpickler`, which only rebuilds numpy arrays and refuses every other
  global, so a tampered file cannot run code;
- MNIST and Fashion-MNIST's idx files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``).

Readers return ``x_train, y_train, x_test, y_test`` as the ``.npz`` archives hold them: uint8
images ``(N, H, W, C)`` (CIFAR-10) or ``(N, H, W)`` (idx), uint8 labels. `find_official`
looks for these files in a data folder; the loaders turn the arrays into a task exactly as
they do an ``.npz`` archive.
"""

from __future__ import annotations

import gzip
import importlib
import pickle
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from nasforge.data.task import DataError

U8Array = npt.NDArray[np.uint8]
Arrays = dict[str, U8Array]

CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_FILES = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: count, rows, columns
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: count
# Subfolders of a data folder that may hold a task's idx files (besides the folder itself).
IDX_SUBFOLDERS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion_mnist": ("fashion_mnist", "FashionMNIST/raw"),
}
OFFICIAL_TASKS = ("cifar10", *IDX_SUBFOLDERS)

_NUM_CLASSES = 10


# -- CIFAR-10 -------------------------------------------------------------------------------


def _multiarray() -> Any:
    try:
        return importlib.import_module("numpy._core.multiarray")  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        return importlib.import_module("numpy.core.multiarray")


def _plain_dtype(*args: Any) -> np.dtype[Any]:
    """`numpy.dtype` for pickled arrays, refusing object dtypes (they would unpickle objects)."""
    dtype: np.dtype[Any] = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing the object dtype {dtype}")
    return dtype


def _latin1_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 writes bytes in protocol-2 pickles: latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 text")
    return text.encode("latin-1")


class CifarUnpickler(pickle.Unpickler):
    """An unpickler for CIFAR-10 batch files that only rebuilds plain numpy arrays.

    ``find_class`` allows numpy's array reconstruction (``_reconstruct``, ``ndarray`` and a
    ``dtype`` that refuses object dtypes) and ``_codecs.encode`` of latin-1 text (how Python 3
    writes bytes in protocol-2 pickles); any other global raises `DataError` before it is
    looked up, so nothing else can be called.
    """

    def __init__(self, file: IO[bytes], source: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source
        multiarray = _multiarray()
        self._allowed: dict[tuple[str, str], Any] = {
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): _plain_dtype,
            ("_codecs", "encode"): _latin1_encode,
        }

    def find_class(self, module: str, name: str) -> Any:
        allowed = self._allowed.get((module, name))
        if allowed is None:
            raise DataError(
                f"refusing to unpickle {module}.{name} from {self.source}: not a CIFAR-10 batch"
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"refusing a persistent id in {self.source}: not a CIFAR-10 batch")


def read_cifar10_batch(path: str | Path) -> tuple[U8Array, U8Array]:
    """One CIFAR-10 batch file as ``(x, y)``: uint8 images ``(N, 32, 32, 3)``, labels ``(N,)``."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            batch = CifarUnpickler(handle, file).load()
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc}") from None
    except Exception as exc:  # any malformed pickle: truncated, bad opcodes, wrong arguments
        raise DataError(f"cannot read {file} as a CIFAR-10 batch: {exc}") from None
    if not isinstance(batch, dict):
        raise DataError(f"{file} holds a {type(batch).__name__}, not a CIFAR-10 batch dict")
    missing = [key.decode() for key in (b"data", b"labels") if key not in batch]
    if missing:
        raise DataError(f"{file} lacks {', '.join(missing)}; not a CIFAR-10 batch")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        what = (
            f"a {data.dtype} array of shape {data.shape}"
            if isinstance(data, np.ndarray)
            else (f"a {type(data).__name__}")
        )
        raise DataError(f"{file}: data is {what}, expected uint8 of shape (N, 3072)")
    if data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{file}: data has shape {data.shape}, expected (N, 3072)")
    labels = batch[b"labels"]
    if not isinstance(labels, list | tuple | np.ndarray) or not all(
        isinstance(label, int | np.integer) and not isinstance(label, bool) for label in labels
    ):
        raise DataError(f"{file}: labels must be a list of integers")
    if len(labels) != len(data):
        raise DataError(f"{file} has {len(data)} images but {len(labels)} labels")
    bad = [int(label) for label in labels if not 0 <= label < _NUM_CLASSES]
    if bad:
        raise DataError(
            f"{file}: {len(bad)} labels outside CIFAR-10's 0..{_NUM_CLASSES - 1} (first: {bad[0]})"
        )
    y = np.asarray(labels, dtype=np.uint8)
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, y


def read_cifar10_folder(folder: str | Path) -> Arrays:
    """``x_train, y_train, x_test, y_test`` from a ``cifar-10-batches-py`` folder."""
    base = Path(folder)
    missing = [name for name in CIFAR10_FILES if not (base / name).is_file()]
    if missing:
        raise DataError(f"{base} lacks {', '.join(missing)} of the official CIFAR-10 batches")
    train = [read_cifar10_batch(base / name) for name in CIFAR10_TRAIN_BATCHES]
    x_test, y_test = read_cifar10_batch(base / CIFAR10_TEST_BATCH)
    return {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]),
        "x_test": x_test,
        "y_test": y_test,
    }


def _find_cifar10_folder(base: Path) -> Path | None:
    """``base/cifar-10-batches-py``, else ``base`` if it is that folder or holds batch files."""
    if (base / CIFAR10_DIR).is_dir():
        return base / CIFAR10_DIR
    if base.name == CIFAR10_DIR or any((base / name).is_file() for name in CIFAR10_FILES):
        return base
    return None


# -- idx (MNIST, Fashion-MNIST) -----------------------------------------------------------


def read_idx(path: str | Path, magic: int) -> U8Array:
    """An idx file of unsigned bytes (``magic`` 0x803 for images, 0x801 for labels), optionally
    gzipped (by the ``.gz`` suffix), as a uint8 array of the shape its header gives."""
    file = Path(path)
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as handle:
                content = handle.read()
        else:
            content = file.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        reason = str(exc) or "truncated gzip stream"
        raise DataError(f"cannot decompress {file}: {reason}") from None
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc}") from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(content) < 4:
        raise DataError(f"{file} is truncated: {len(content)} bytes, no idx header")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        raise DataError(f"{file} has magic number 0x{found:08x}, expected 0x{magic:08x}")
    if len(content) < header:
        raise DataError(f"{file} is truncated: {len(content)} bytes, the header needs {header}")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    if len(content) - header != size:
        state = "is truncated" if len(content) - header < size else "is too long"
        raise DataError(
            f"{file} {state}: its header gives shape {shape} ({size} bytes of data), "
            f"the file has {len(content) - header}"
        )
    array: U8Array = np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)
    writable: U8Array = array.copy()
    return writable


def read_idx_folder(folder: str | Path) -> Arrays:
    """``x_train, y_train, x_test, y_test`` from a folder with the four official idx files."""
    base = Path(folder)
    files: dict[str, Path] = {}
    missing: list[str] = []
    for key, name in IDX_FILES.items():
        found = _idx_file(base, name)
        if found is None:
            missing.append(name)
        else:
            files[key] = found
    if missing:
        raise DataError(f"{base} lacks {', '.join(missing)} (or .gz) of the official idx files")
    arrays: Arrays = {}
    for split in ("train", "test"):
        x = read_idx(files[f"x_{split}"], IDX_IMAGES_MAGIC)
        y = read_idx(files[f"y_{split}"], IDX_LABELS_MAGIC)
        if len(x) != len(y):
            raise DataError(
                f"{files[f'x_{split}'].name} has {len(x)} images but "
                f"{files[f'y_{split}'].name} has {len(y)} labels"
            )
        if len(y) and y.max() >= _NUM_CLASSES:
            raise DataError(
                f"{files[f'y_{split}']}: labels up to {y.max()}, outside 0..{_NUM_CLASSES - 1}"
            )
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    return arrays


def _idx_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _find_idx_folder(name: str, base: Path) -> Path | None:
    for sub in ("", *IDX_SUBFOLDERS[name]):
        folder = base / sub if sub else base
        if any(_idx_file(folder, file_name) for file_name in IDX_FILES.values()):
            return folder
    return None


# -- lookup ---------------------------------------------------------------------------------


def find_official(name: str, base: str | Path) -> Path | None:
    """The folder under ``base`` holding task ``name``'s official files (``base`` itself or a
    known subfolder), or None when there are none. Partial sets are found too: reading them
    says what is missing."""
    folder = Path(base)
    if name == "cifar10":
        return _find_cifar10_folder(folder)
    if name in IDX_SUBFOLDERS:
        return _find_idx_folder(name, folder)
    return None


def read_official(name: str, folder: str | Path) -> Arrays:
    """Task ``name``'s arrays from a folder `find_official` returned."""
    if name == "cifar10":
        return read_cifar10_folder(folder)
    if name in IDX_SUBFOLDERS:
        return read_idx_folder(folder)
    raise DataError(f"{name} has no official format to read; choose from {OFFICIAL_TASKS}")


def describe_official(name: str) -> str:
    """The official files of task ``name`` and where they are looked for, for error messages."""
    if name == "cifar10":
        return f"the official {CIFAR10_DIR} folder (data_batch_1..5, test_batch), or its files"
    if name in IDX_SUBFOLDERS:
        subfolders = " or ".join(f"{sub}/" for sub in IDX_SUBFOLDERS[name])
        return (
            f"the official idx files ({', '.join(IDX_FILES.values())}, each optionally .gz), "
            f"also looked for in {subfolders}"
        )
    return "an official release"
