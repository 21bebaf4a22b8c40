"""Official release formats: CIFAR-10's pickled batches and MNIST / Fashion-MNIST's idx files,
written tiny and synthetic, must load exactly like the equivalent ``.npz`` archives."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from nasforge.data.loaders import DATA_ENV, load_task
from nasforge.data.official_formats import (
    CIFAR10_DIR,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    read_cifar10_batch,
    read_idx,
)
from nasforge.data.task import DataError, Task

U8 = npt.NDArray[np.uint8]
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _arrays(image_shape: tuple[int, ...], n_train: int = 40, n_test: int = 8) -> dict[str, U8]:
    """Random uint8 images with labels cycling over 4 classes (every split non-empty)."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, *image_shape), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 4).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, *image_shape), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 4).astype(np.uint8),
    }


def _npz_task(tmp_path: Path, name: str, arrays: dict[str, U8]) -> Task:
    folder = tmp_path / "npz"
    folder.mkdir()
    np.savez(folder / f"{name}.npz", **_any(arrays))
    return load_task(name, folder)


def _any(arrays: dict[str, U8]) -> dict[str, Any]:
    return dict(arrays)


def _assert_same_task(a: Task, b: Task) -> None:
    for field in ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test", "mean", "std"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert (a.name, a.num_classes, a.input_shape) == (b.name, b.num_classes, b.input_shape)


# -- CIFAR-10 -------------------------------------------------------------------------------


def _batch_bytes(x_hwc: U8, labels: list[int], extra: dict[bytes, Any] | None = None) -> bytes:
    batch: dict[bytes, Any] = {
        b"batch_label": b"synthetic batch",
        b"data": np.ascontiguousarray(x_hwc.transpose(0, 3, 1, 2).reshape(len(x_hwc), 3072)),
        b"labels": labels,
        b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        **(extra or {}),
    }
    return pickle.dumps(batch, protocol=2)


def _write_cifar(folder: Path, arrays: dict[str, U8]) -> Path:
    folder.mkdir(parents=True)
    x_parts = np.array_split(arrays["x_train"], 5)
    y_parts = np.array_split(arrays["y_train"], 5)
    for i, (x, y) in enumerate(zip(x_parts, y_parts, strict=True), start=1):
        (folder / f"data_batch_{i}").write_bytes(_batch_bytes(x, y.tolist()))
    test = _batch_bytes(arrays["x_test"], arrays["y_test"].tolist())
    (folder / "test_batch").write_bytes(test)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"]}, protocol=2))
    return folder


def test_cifar10_batches_load_like_the_npz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = _arrays((32, 32, 3))
    expected = _npz_task(tmp_path, "cifar10", arrays)
    batches = _write_cifar(tmp_path / "data" / CIFAR10_DIR, arrays)
    _assert_same_task(load_task("cifar10", tmp_path / "data"), expected)  # the folder holding it
    _assert_same_task(load_task("cifar10", batches), expected)  # the batches folder itself
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    _assert_same_task(load_task("cifar10"), expected)
    x, y = read_cifar10_batch(batches / "test_batch")
    assert x.shape == (8, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, arrays["x_test"])  # CHW rows become HWC pixels
    np.testing.assert_array_equal(y, arrays["y_test"])


def test_npz_wins_over_official_files(tmp_path: Path) -> None:
    arrays = _arrays((32, 32, 3))
    _write_cifar(tmp_path / CIFAR10_DIR, arrays)
    np.savez(tmp_path / "cifar10.npz", **_any(_arrays((32, 32, 3), n_train=60)))
    task = load_task("cifar10", tmp_path)
    assert len(task.y_train) + len(task.y_valid) == 60  # the npz's 60, not the batches' 40


def _py2_pickle(obj: object) -> bytes:
    """``obj`` pickled with protocol 2, bytes and str written as Python 2 ``str``
    (``BINSTRING``), as in the official batches (pure-Python pickler with two opcodes swapped)."""

    def save_py2_str(pickler: Any, text: bytes | str) -> None:
        data = text if isinstance(text, bytes) else text.encode("latin-1")
        if len(data) < 256:
            pickler.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            pickler.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        pickler.memoize(text)

    buffer = io.BytesIO()
    pickler: Any = vars(pickle)["_Pickler"](buffer, protocol=2)
    pickler.dispatch = {**pickler.dispatch, bytes: save_py2_str, str: save_py2_str}
    pickler.dump(obj)
    return buffer.getvalue()


def test_python2_style_batch_without_codecs(tmp_path: Path) -> None:
    """Like the official files: Python 2 strings and numpy 1's module name, no ``_codecs``."""
    x = _arrays((32, 32, 3))["x_test"]
    batch = {b"data": x.transpose(0, 3, 1, 2).reshape(8, 3072), b"labels": list(range(8))}
    content = _py2_pickle(batch).replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in content and b"_codecs" not in content
    (tmp_path / "test_batch").write_bytes(content)
    got_x, got_y = read_cifar10_batch(tmp_path / "test_batch")
    np.testing.assert_array_equal(got_x, x)
    assert got_y.tolist() == list(range(8))


class _GetCwd:
    """Pickles as a call to ``os.getcwd()``: a harmless stand-in for a malicious global."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (os.getcwd, ())


def test_forbidden_global_is_refused_and_never_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _arrays((32, 32, 3))
    folder = _write_cifar(tmp_path / CIFAR10_DIR, arrays)
    payload = _batch_bytes(arrays["x_test"], arrays["y_test"].tolist(), {b"x": _GetCwd()})
    (folder / "data_batch_3").write_bytes(payload)
    calls: list[object] = []
    module = os.getcwd.__module__  # "posix" or "nt": what the pickle names
    monkeypatch.setattr(sys.modules[module], "getcwd", lambda: calls.append(1))
    monkeypatch.setattr(os, "getcwd", lambda: calls.append(1))
    pattern = rf"refusing to unpickle {module}\.getcwd from .*data_batch_3: not a CIFAR-10 batch"
    with pytest.raises(DataError, match=pattern):
        load_task("cifar10", tmp_path)
    assert calls == []


def test_object_arrays_and_other_codecs_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "data_batch_1"
    file.write_bytes(pickle.dumps({b"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(DataError, match=r"cannot read .* as a CIFAR-10 batch: .*object dtype"):
        read_cifar10_batch(file)
    rot13 = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    file.write_bytes(rot13)
    with pytest.raises(DataError, match="only allowed for latin-1 text"):
        read_cifar10_batch(file)
    file.write_bytes(pickle.dumps({b"data": 1}, protocol=2)[:-5])  # truncated
    with pytest.raises(DataError, match=r"cannot read .* as a CIFAR-10 batch"):
        read_cifar10_batch(file)


def test_malformed_cifar_batches(tmp_path: Path) -> None:
    x = _arrays((32, 32, 3))["x_test"]
    file = tmp_path / "test_batch"
    file.write_bytes(_batch_bytes(x, [0, 1, 2, 3, 10, 5, 6, 7]))
    with pytest.raises(DataError, match=r"1 labels outside CIFAR-10's 0\.\.9 \(first: 10\)"):
        read_cifar10_batch(file)
    file.write_bytes(_batch_bytes(x, [0, 1, -1, 3, 4, 5, 6, 7]))
    with pytest.raises(DataError, match=r"labels outside CIFAR-10's 0\.\.9 \(first: -1\)"):
        read_cifar10_batch(file)
    file.write_bytes(_batch_bytes(x, [0, 1, 2]))
    with pytest.raises(DataError, match="has 8 images but 3 labels"):
        read_cifar10_batch(file)
    file.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"data has shape \(2, 100\), expected \(N, 3072\)"):
        read_cifar10_batch(file)
    file.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"data is a float32 array .* expected uint8"):
        read_cifar10_batch(file)
    file.write_bytes(pickle.dumps({b"labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="lacks data; not a CIFAR-10 batch"):
        read_cifar10_batch(file)
    folder = _write_cifar(tmp_path / CIFAR10_DIR, _arrays((32, 32, 3)))
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="lacks data_batch_4 of the official CIFAR-10 batches"):
        load_task("cifar10", tmp_path)


# -- idx ------------------------------------------------------------------------------------


def _idx_bytes(array: U8, magic: int | None = None) -> bytes:
    if magic is None:
        magic = IDX_IMAGES_MAGIC if array.ndim == 3 else IDX_LABELS_MAGIC
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def _write_idx(folder: Path, arrays: dict[str, U8], *, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_NAMES.items():
        content = _idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
        else:
            (folder / name).write_bytes(content)
    return folder


def test_idx_files_load_like_the_npz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = _arrays((28, 28))
    expected = _npz_task(tmp_path, "mnist", arrays)
    _write_idx(tmp_path / "plain", arrays)
    _assert_same_task(load_task("mnist", tmp_path / "plain"), expected)
    _write_idx(tmp_path / "gz", arrays, gz=True)
    _assert_same_task(load_task("mnist", tmp_path / "gz"), expected)
    _write_idx(tmp_path / "env" / "mnist", arrays, gz=True)  # a subfolder named after the task
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    _assert_same_task(load_task("mnist"), expected)
    images = read_idx(tmp_path / "gz" / "t10k-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    np.testing.assert_array_equal(images, arrays["x_test"])


def test_fashion_mnist_in_torchvision_layout(tmp_path: Path) -> None:
    arrays = _arrays((28, 28))
    expected = _npz_task(tmp_path, "fashion_mnist", arrays)
    _write_idx(tmp_path / "data" / "FashionMNIST" / "raw", arrays, gz=True)
    _assert_same_task(load_task("fashion_mnist", tmp_path / "data"), expected)


def test_malformed_idx_files(tmp_path: Path) -> None:
    arrays = _arrays((28, 28))
    folder = _write_idx(tmp_path, arrays)
    images = folder / IDX_NAMES["x_train"]
    labels = folder / IDX_NAMES["y_train"]
    images.write_bytes(_idx_bytes(arrays["x_train"], magic=0x00000801))
    with pytest.raises(DataError, match="has magic number 0x00000801, expected 0x00000803"):
        load_task("mnist", folder)
    content = _idx_bytes(arrays["x_train"])
    images.write_bytes(content[:-10])
    with pytest.raises(DataError, match=r"is truncated: its header gives shape \(40, 28, 28\)"):
        load_task("mnist", folder)
    images.write_bytes(content[:9])
    with pytest.raises(DataError, match="is truncated: 9 bytes, the header needs 16"):
        load_task("mnist", folder)
    images.write_bytes(content + b"\0")
    with pytest.raises(DataError, match="is too long"):
        load_task("mnist", folder)
    images.write_bytes(content)
    labels.write_bytes(_idx_bytes(arrays["y_train"][:-1]))
    with pytest.raises(DataError, match=r"has 40 images but .* has 39 labels"):
        load_task("mnist", folder)
    labels.write_bytes(_idx_bytes(np.full(40, 12, np.uint8)))
    with pytest.raises(DataError, match=r"labels up to 12, outside 0\.\.9"):
        load_task("mnist", folder)
    labels.unlink()
    (folder / f"{labels.name}.gz").write_bytes(gzip.compress(_idx_bytes(arrays["y_train"]))[:-8])
    with pytest.raises(DataError, match=r"cannot decompress .*train-labels-idx1-ubyte\.gz"):
        load_task("mnist", folder)
    (folder / f"{labels.name}.gz").unlink()
    with pytest.raises(DataError, match=r"lacks train-labels-idx1-ubyte \(or \.gz\)"):
        load_task("mnist", folder)


def test_neither_npz_nor_official_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=r"no mnist.npz in .*, nor the official idx files"):
        load_task("mnist", tmp_path)
    with pytest.raises(DataError, match=rf"no cifar10.npz .* nor the official {CIFAR10_DIR}"):
        load_task("cifar10", tmp_path)
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(DataError, match=r"holding fashion_mnist\.npz or the official idx files"):
        load_task("fashion_mnist")
