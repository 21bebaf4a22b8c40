"""Tasks and loaders: shapes, normalization, stratified splits, and one-line errors."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasforge.data import (
    DATA_ENV,
    DataError,
    Task,
    load_csv_task,
    load_digits_task,
    load_mnist1d_task,
    load_npz_task,
    load_task,
    make_task,
    stratified_split,
    task_from_arrays,
)


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task(seed=0)


def _arrays(
    n: int = 60, shape: tuple[int, ...] = (2, 5), classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, size=(n, *shape)).astype(np.float32)
    y = np.arange(n) % classes
    return x, y


# -- digits ---------------------------------------------------------------------------------


def test_digits_shapes_and_types(digits: Task) -> None:
    assert digits.input_shape == (1, 8, 8)
    assert digits.num_classes == 10
    assert digits.metric == "accuracy"
    assert len(digits.y_train) + len(digits.y_valid) + len(digits.y_test) == 1797
    assert len(digits.y_test) == pytest.approx(0.2 * 1797, abs=5)
    assert len(digits.y_valid) == pytest.approx(0.3 * (1797 - len(digits.y_test)), abs=5)
    assert (len(digits.y_train), len(digits.y_valid), len(digits.y_test)) == (1004, 434, 359)
    for x, y in [
        (digits.x_train, digits.y_train),
        (digits.x_valid, digits.y_valid),
        (digits.x_test, digits.y_test),
    ]:
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape[1:] == (1, 8, 8) and len(x) == len(y)
        assert set(np.unique(y)) == set(range(10))


def test_digits_normalized_with_train_statistics(digits: Task) -> None:
    assert digits.x_train.mean(axis=(0, 2, 3)) == pytest.approx([0.0], abs=1e-5)
    assert digits.x_train.std(axis=(0, 2, 3)) == pytest.approx([1.0], abs=1e-5)
    assert digits.mean.shape == digits.std.shape == (1,)
    # pixel scale is 1/16: the raw mean of digits is about 4.9 / 16
    assert 0.2 < float(digits.mean[0]) < 0.4
    # the validation and test sets use the training statistics, so they are only roughly 0/1
    assert abs(float(digits.x_test.mean())) < 0.1


def test_digits_splits_reproducible_and_disjoint() -> None:
    a, b, c = load_digits_task(seed=0), load_digits_task(seed=0), load_digits_task(seed=1)
    np.testing.assert_array_equal(a.x_valid, b.x_valid)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_valid, c.x_valid)  # the seed draws the validation split
    np.testing.assert_array_equal(a.y_test, c.y_test)  # the test split is fixed
    rows = {split: {r.tobytes() for r in getattr(a, f"x_{split}")} for split in ("train", "valid")}
    assert not rows["train"] & rows["valid"]


def test_task_arrays_are_read_only(digits: Task) -> None:
    with pytest.raises(ValueError):
        digits.x_train[0, 0, 0, 0] = 1.0


# -- make_task and stratified_split -----------------------------------------------------------


def test_stratified_split_is_disjoint_complete_and_balanced() -> None:
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    kept, taken = stratified_split(y, 0.1, seed=3)
    assert not set(kept) & set(taken)
    assert sorted([*kept, *taken]) == list(range(len(y)))
    assert np.bincount(y[taken]).tolist() == [1, 2, 3, 4]
    again = stratified_split(y, 0.1, seed=3)
    np.testing.assert_array_equal(taken, again[1])
    assert not np.array_equal(taken, stratified_split(y, 0.1, seed=4)[1])


def test_make_task_normalizes_per_channel_and_reuses_statistics() -> None:
    x, y = _arrays(shape=(2, 5))
    x[:, 1] = x[:, 1] * 10 + 100  # a channel on a very different scale
    x_test, y_test = _arrays(n=12, shape=(2, 5), seed=1)
    task = make_task("seq", x, y, x_test, y_test, valid_fraction=0.2, seed=0)
    assert task.input_shape == (2, 5)
    assert task.x_train.mean(axis=(0, 2)) == pytest.approx([0.0, 0.0], abs=1e-5)
    assert task.x_train.std(axis=(0, 2)) == pytest.approx([1.0, 1.0], abs=1e-5)
    np.testing.assert_allclose(task.normalize(x_test), task.x_test, rtol=1e-6)


def test_make_task_gives_constant_feature_std_one() -> None:
    x, y = _arrays(shape=(3,))
    x[:, 2] = 7.0
    task = make_task("table", x, y, x[:6], y[:6])
    assert float(task.std[2]) == 1.0
    assert np.all(task.x_train[:, 2] == 0.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {**a, "y_train": a["y_train"][:-1]}, "x_train has 60 rows but y_train has 59"),
        (lambda a: {**a, "x_train": _with_nan(a["x_train"])}, "x_train has NaN or infinite"),
        (lambda a: {**a, "y_test": a["y_test"] + 5, "num_classes": 3}, r"outside \[0, 3\)"),
        (lambda a: {**a, "y_train": a["y_train"] - 1}, r"y_train has labels in \[-1, 1\]"),
        (lambda a: {**a, "x_test": a["x_test"][:0], "y_test": a["y_test"][:0]}, "x_test is empty"),
        (lambda a: {**a, "x_test": a["x_test"][:, :1]}, "x_test has example shape"),
        (lambda a: {**a, "y_train": a["y_train"] + 0.5}, "integer class ids"),
        (lambda a: {**a, "y_train": a["y_train"] * 0, "y_test": a["y_test"] * 0}, "2 classes"),
        (lambda a: {**a, "valid_fraction": 1.0}, r"fraction must be in \(0, 1\)"),
    ],
    ids=[
        "lengths",
        "nan",
        "label-too-big",
        "label-negative",
        "empty",
        "shape",
        "float-labels",
        "one-class",
        "fraction",
    ],
)
def test_make_task_rejects_bad_input_with_one_line(
    change: Callable[[dict[str, Any]], dict[str, Any]], message: str
) -> None:
    x, y = _arrays()
    args = {"x_train": x, "y_train": y, "x_test": x[:9].copy(), "y_test": y[:9].copy()}
    with pytest.raises(DataError, match=message) as info:
        make_task("bad", **change(args))
    assert "\n" not in str(info.value)


def _with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x[3, 0, 0] = np.nan
    return x


# -- npz, csv, arrays ---------------------------------------------------------------------------


def _write_npz(path: Path, x_shape: tuple[int, ...], n: int = 40, **drop: bool) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n, *x_shape), dtype=np.uint8),
        "y_train": (np.arange(n) % 4).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(8, *x_shape), dtype=np.uint8),
        "y_test": (np.arange(8) % 4).astype(np.uint8),
    }
    np.savez(path, **{k: v for k, v in arrays.items() if not drop.get(k)})
    return path


def test_npz_hwc_images_become_nchw(tmp_path: Path) -> None:
    task = load_npz_task("rgb", _write_npz(tmp_path / "rgb.npz", (16, 16, 3)))
    assert task.input_shape == (3, 16, 16)
    assert task.mean.shape == (3,)
    assert 0.4 < float(task.mean[0]) < 0.6  # uint8 pixels scaled to [0, 1] first


def test_npz_grayscale_gets_a_channel_axis(tmp_path: Path) -> None:
    path = _write_npz(tmp_path / "mnist.npz", (28, 28))
    task = load_task("mnist", tmp_path)  # a folder holding mnist.npz
    assert task.input_shape == (1, 28, 28)
    assert load_npz_task("m", path).input_shape == (1, 28, 28)


def test_npz_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such data file: .*nothing\.npz"):
        load_npz_task("x", tmp_path / "nothing.npz")


def test_npz_lacking_keys(tmp_path: Path) -> None:
    path = _write_npz(tmp_path / "half.npz", (4, 4), y_test=True, x_test=True)
    with pytest.raises(DataError, match=r"lacks x_test, y_test; an \.npz task needs"):
        load_npz_task("half", path)


def test_npz_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_text("not a zip")
    with pytest.raises(DataError, match=r"cannot read .* as an \.npz archive"):
        load_npz_task("junk", path)


def test_named_npz_task_checks_the_image_shape(tmp_path: Path) -> None:
    _write_npz(tmp_path / "cifar10.npz", (28, 28))
    with pytest.raises(DataError, match=r"cifar10 inputs have shape \(1, 28, 28\), expected"):
        load_task("cifar10", tmp_path)


def test_load_task_needs_a_path_or_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(DataError, match=f"pass data_path or set {DATA_ENV}"):
        load_task("fashion_mnist")
    _write_npz(tmp_path / "fashion_mnist.npz", (28, 28))
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert load_task("fashion_mnist").input_shape == (1, 28, 28)
    with pytest.raises(DataError, match=r"no mnist.npz in"):
        load_task("mnist")
    with pytest.raises(DataError, match="unknown task 'imagenet'; choose from digits, mnist1d"):
        load_task("imagenet")


def test_csv_task_with_named_classes(tmp_path: Path) -> None:
    rows = ["a,b,kind"] + [f"{i},{i % 5 * 0.5},{['cat', 'dog'][i % 2]}" for i in range(50)]
    path = tmp_path / "pets.csv"
    path.write_text("\n".join(rows) + "\n")
    task = load_csv_task(path, label_column="kind")
    assert task.name == "pets" and task.input_shape == (2,)
    assert task.class_names == ("cat", "dog") and task.num_classes == 2
    assert len(task.y_train) + len(task.y_valid) + len(task.y_test) == 50
    assert load_task("csv", path, label_column="kind").class_names == ("cat", "dog")


def test_csv_errors_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,label\n1,0\nx,1\n")
    with pytest.raises(DataError, match=r"bad.csv line 3, column 'a': 'x' is not a number"):
        load_csv_task(path)
    with pytest.raises(DataError, match="has no column 'y'; columns: a, label"):
        load_csv_task(path, label_column="y")


def test_task_from_arrays_sequences() -> None:
    x, y = _arrays(n=100, shape=(2, 20), classes=4)
    task = task_from_arrays("seq", x, y, seed=1)
    assert task.input_shape == (2, 20)
    assert len(task.y_test) == 20
    with pytest.raises(DataError, match="x has 100 rows but y has 99"):
        task_from_arrays("seq", x, y[:-1])


# -- shared data and mnist1d ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_data(cifar10_small_path: Path) -> Path:
    """The folder with cifar10_small.npz (see `cifar10_small_path` in conftest)."""
    return cifar10_small_path.parent


def test_cifar10_npz_loads_as_nchw(shared_data: Path) -> None:
    task = load_task("cifar10", shared_data)
    assert task.input_shape == (3, 32, 32)
    assert (len(task.y_train), len(task.y_valid), len(task.y_test)) == (9000, 1000, 2000)
    assert np.bincount(task.y_valid).tolist() == [100] * 10
    assert task.mean == pytest.approx([0.4914, 0.4822, 0.4465], abs=0.01)


def test_mnist1d_generated_offline_and_deterministic() -> None:
    """Needs the test extras ``mnist1d`` and ``matplotlib``."""
    np.random.seed(123)
    random.seed(123)
    expected = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    a = load_mnist1d_task(seed=0)
    assert (np.random.random(), random.random()) == expected  # global generators untouched
    b = load_mnist1d_task(seed=0)
    assert a.input_shape == (1, 40) and a.num_classes == 10
    assert len(a.y_train) + len(a.y_valid) == 4000 and len(a.y_test) == 1000
    np.testing.assert_array_equal(a.x_train, b.x_train)
