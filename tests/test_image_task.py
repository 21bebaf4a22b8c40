"""Image tasks that stream from files: the layouts, decoding, the streaming trainer against
the in-memory one, bad input, and search and predict from the CLI on tiny PNG folders."""

from __future__ import annotations

import csv
import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data import DataError, Task, load_task
from nasforge.data.image_files import ImageFiles
from nasforge.data.images import load_image_task
from nasforge.proxies.base import ProxyBatch
from nasforge.training import TrainConfig, Trainer

runner = CliRunner()


def _image(path: Path, label: int, index: int, size: int = 16, mode: str = "RGB") -> None:
    """A small image whose colour depends on its class (so a network can learn it)."""
    rng = np.random.default_rng(1000 * label + index)
    pixels = (rng.random((size, size, 3)) * 80 + label * 80).astype(np.uint8)
    image = Image.fromarray(pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    (image if mode == "RGB" else image.convert(mode)).save(path)


def _folder(root: Path, classes: int = 3, per_class: int = 20, test: int = 0) -> Path:
    """``root/CLASS/i.png``; with ``test`` images a class, ``root/train/`` and ``root/test/``."""
    for label in range(classes):
        for index in range(per_class):
            split = "" if not test else ("test" if index < test else "train")
            _image(root / split / f"class{label}" / f"{index:02d}.png", label, index)
    return root


def _manifest(root: Path, rows: list[dict[str, str]]) -> Path:
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _in_memory(task: Task) -> Task:
    return replace(
        task,
        x_train=np.asarray(task.x_train),
        x_valid=np.asarray(task.x_valid),
        x_test=np.asarray(task.x_test),
    )


def _small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_folder_and_a_manifest_of_the_same_files_read_the_same_examples(tmp_path: Path) -> None:
    root = _folder(tmp_path / "tree", per_class=8, test=2)
    rows = [
        {"path": str(p.relative_to(root)), "label": p.parent.name, "split": p.parts[-3]}
        for p in sorted(root.rglob("*.png"))
    ]
    from_folder = load_image_task(root, image_size=12)
    from_manifest = load_image_task(_manifest(root, rows), image_size=12)
    assert from_folder.streams and from_manifest.streams
    assert from_folder.class_names == from_manifest.class_names == ("class0", "class1", "class2")
    for split in ("train", "valid", "test"):
        x_folder = np.asarray(getattr(from_folder, f"x_{split}"))
        x_manifest = np.asarray(getattr(from_manifest, f"x_{split}"))
        assert x_folder.shape[1:] == (3, 12, 12)
        np.testing.assert_array_equal(x_folder, x_manifest)
        np.testing.assert_array_equal(
            getattr(from_folder, f"y_{split}"), getattr(from_manifest, f"y_{split}")
        )
    assert len(from_folder.y_test) == 6  # the test/ folder: 2 images a class
    np.testing.assert_array_equal(from_folder.mean, from_manifest.mean)


def test_examples_are_decoded_resized_and_normalized_with_the_training_statistics(
    tmp_path: Path,
) -> None:
    root = _folder(tmp_path, per_class=6)
    task = load_image_task(
        root, image_size=8, test_fraction=0.34, valid_fraction=0.25, stats_sample=10_000
    )
    raw = np.stack(
        [
            np.asarray(Image.open(p).convert("RGB").resize((8, 8), Image.Resampling.BILINEAR))
            for p in task.x_train.paths
        ]
    ).transpose(0, 3, 1, 2) / np.float32(255.0)
    np.testing.assert_allclose(task.mean, raw.mean(axis=(0, 2, 3)), rtol=1e-5)
    expected = (raw - task.mean[None, :, None, None]) / task.std[None, :, None, None]
    np.testing.assert_allclose(np.asarray(task.x_train), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(task.x_train[[2, 0]], expected[[2, 0]], rtol=1e-5, atol=1e-5)
    assert task.input_shape == (3, 8, 8)


def _curve(task: Task, config: TrainConfig) -> list[tuple[float, float]]:
    report = Trainer(config).fit(_small_net(), task)
    return [(m.train_loss, m.valid_accuracy) for m in report.curve]


def test_the_streaming_trainer_trains_exactly_as_the_in_memory_one(tmp_path: Path) -> None:
    task = load_image_task(_folder(tmp_path, per_class=8), image_size=16, valid_fraction=0.2)
    config = TrainConfig(epochs=2, batch_size=8, augment=True, threads=1)
    assert _curve(task, config) == _curve(_in_memory(task), config)
    model = _small_net()
    trainer = Trainer(config)
    assert trainer.evaluate(model, task.x_test, task.y_test) == trainer.evaluate(
        model, np.asarray(task.x_test), task.y_test
    )


@pytest.mark.slow
def test_loader_worker_processes_give_the_same_batches_and_end_with_the_fit(
    tmp_path: Path,
) -> None:
    task = load_image_task(_folder(tmp_path, per_class=12), image_size=16)
    config = TrainConfig(epochs=2, batch_size=8, augment=True, threads=1)
    workers = replace(
        task,
        x_train=replace(task.x_train, workers=2),
        x_valid=replace(task.x_valid, workers=1),
    )
    assert _curve(workers, config) == _curve(task, config)
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_a_task_sends_paths_to_worker_processes_not_pixels(tmp_path: Path) -> None:
    task = load_image_task(_folder(tmp_path, per_class=20), image_size=64)
    pixels = 3 * 64 * 64 * 4 * len(task.y_train)
    assert len(pickle.dumps(task)) < pixels / 10
    again = pickle.loads(pickle.dumps(task))
    np.testing.assert_array_equal(np.asarray(again.x_valid), np.asarray(task.x_valid))


def test_a_proxy_batch_decodes_only_its_examples(tmp_path: Path) -> None:
    task = load_image_task(_folder(tmp_path, per_class=10), image_size=8)
    files = task.x_train
    assert isinstance(files, ImageFiles)
    batch = ProxyBatch.from_arrays(files, task.y_train, 3, size=5, seed=1)
    memory = ProxyBatch.from_arrays(np.asarray(files), task.y_train, 3, size=5, seed=1)
    assert batch.inputs is not None and memory.inputs is not None
    assert torch.equal(batch.inputs, memory.inputs)


def test_mixed_image_modes_are_converted_to_rgb_with_a_note(tmp_path: Path) -> None:
    root = _folder(tmp_path, per_class=10)
    _image(root / "class0" / "gray.png", 0, 99, mode="L")
    _image(root / "class1" / "alpha.png", 1, 99, mode="RGBA")
    _image(root / "class2" / "photo.jpg", 2, 99)
    task = load_image_task(root, image_size=16, test_fraction=0.4)
    assert task.notes == ("converted 1 L, 1 RGBA images to RGB",)
    assert len(task.y_train) + len(task.y_valid) + len(task.y_test) == 33
    gray = load_image_task(root, image_size=16, test_fraction=0.4)
    x = np.asarray(replace(gray.x_train, paths=(str(root / "class0" / "gray.png"),)))
    assert x.shape == (1, 3, 16, 16)
    raw = x[0] * gray.std[:, None, None] + gray.mean[:, None, None]
    np.testing.assert_allclose(raw[0], raw[1], atol=1e-5)  # gray: R = G = B


def test_groups_from_the_manifest_and_from_file_names_take_whole_groups(tmp_path: Path) -> None:
    root = tmp_path / "g"
    rows = []
    for label in range(2):
        for camera in ("a", "b", "c", "d"):
            for index in range(3):
                name = f"{camera}_{label}_{index}.png"
                _image(root / name, label, 10 * index + ord(camera))
                rows.append({"path": name, "label": f"l{label}", "group": camera})
    from_column = load_image_task(_manifest(root, rows), image_size=8, test_fraction=0.25)
    assert from_column.valid_groups
    by_name = load_image_task(
        _manifest(root, [{"path": r["path"], "label": r["label"]} for r in rows]),
        image_size=8,
        test_fraction=0.25,
        group_pattern=r"^([a-d])_",
    )
    assert by_name.valid_groups == from_column.valid_groups
    valid = {Path(p).name[0] for p in by_name.x_valid.paths}
    train = {Path(p).name[0] for p in by_name.x_train.paths}
    assert valid == set(by_name.valid_groups) and not valid & train
    final = by_name.for_final_training()
    assert len(final.x_train) == len(by_name.y_train) + len(by_name.y_valid)
    assert isinstance(final.x_train, ImageFiles)


def test_load_task_reads_images_by_name(tmp_path: Path) -> None:
    task = load_task("images", _folder(tmp_path, per_class=10), image_size=8, loader_workers=2)
    assert task.streams and task.x_train.workers == 2
    with pytest.raises(DataError, match="needs --data"):
        load_task("images")


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda root: root.mkdir(), [], "no images in class subfolders of"),
        (lambda root: (root / "cats").mkdir(parents=True), [], "no images in class subfolders"),
        (
            lambda root: (
                _folder(root, per_class=4),
                (root / "class1" / "09.png").write_bytes(b"x"),
            ),
            [],
            "cannot decode image .*09.png.*--skip-bad-files",
        ),
        (
            lambda root: (_folder(root, per_class=4), _image(root / "solo" / "0.png", 2, 0)),
            [],
            "class 'solo' has one image .*solo/0.png.*at least 2",
        ),
        (lambda root: _folder(root, per_class=4), ["--loader-workers", "-1"], "--loader-workers"),
        (lambda root: _folder(root, per_class=4), ["--image-size", "0"], "--image-size"),
        (
            lambda root: (root.mkdir(), (root / "m.csv").write_text("file,class\na.png,x\n")),
            ["@m.csv"],
            "not an image manifest",
        ),
    ],
    ids=["empty", "no-images", "undecodable", "one-image-class", "workers", "size", "manifest"],
)
def test_bad_image_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, args: list[str], message: str
) -> None:
    root = tmp_path / "data"
    make(root)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    data = str(root / args.pop(0)[1:]) if args and args[0].startswith("@") else str(root)
    result = runner.invoke(
        app, ["search", "--task", "images", "--data", data, "--budget", "1", "--epochs", "1", *args]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasforge: error:"), result.output
    import re

    assert re.search(message, lines[0]), lines[0]
    assert list(work.iterdir()) == []


def test_image_options_apply_only_to_the_images_task(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "--task", "digits", "--image-size", "16"])
    assert result.exit_code == 2
    assert "--image-size apply to --task images" in result.output


@pytest.mark.slow
def test_a_streaming_search_skips_a_bad_file_then_predict_reads_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _folder(tmp_path / "data", per_class=20)
    (root / "class2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _image(root / "class0" / "gray.png", 0, 77, mode="L")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app,
        [
            "search",
            "--task", "images", "--data", str(root), "--image-size", "16",
            "--loader-workers", "1", "--skip-bad-files",
            "--budget", "1", "--epochs", "1", "--final-epochs", "3", "--augment",
            "--out", "winner", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "note: left out 1 image file that do not decode" in result.stderr
    assert "broken.png" in result.stderr and "converted 1 L images to RGB" in result.stderr
    record = json.loads((tmp_path / "winner" / "arch.json").read_text())
    assert record["input_shape"] == [3, 16, 16]
    assert record["preprocessing"] == {"kind": "images", "image_size": 16}
    predicted = runner.invoke(app, ["predict", "winner", "--data", str(root / "class1")])
    assert predicted.exit_code == 0, predicted.output
    rows = [line.split("\t") for line in predicted.stdout.strip().splitlines()]
    assert [name for name, _ in rows] == [f"{i:02d}.png" for i in range(20)]
    assert sum(label == "class1" for _, label in rows) >= 15  # colour tells the classes apart
    one = runner.invoke(app, ["predict", "winner", "--data", str(root / "class0" / "gray.png")])
    assert one.exit_code == 0 and one.stdout.strip().endswith("class0"), one.output
    bad = runner.invoke(app, ["predict", "winner", "--data", str(root / "class2" / "broken.png")])
    assert bad.exit_code == 2 and "cannot decode image" in bad.output


def test_the_one_shot_split_keeps_the_weights_half_as_files(tmp_path: Path) -> None:
    from nasforge.oneshot.bilevel import split_for_bilevel

    task = load_image_task(_folder(tmp_path, per_class=12), image_size=8)
    split = split_for_bilevel(task, batch_size=4, seed=0)
    in_memory = split_for_bilevel(_in_memory(task), batch_size=4, seed=0)
    assert isinstance(split.weights_task.x_train, ImageFiles)
    np.testing.assert_array_equal(
        np.asarray(split.weights_task.x_train), in_memory.weights_task.x_train
    )
    assert torch.equal(split.x_arch, in_memory.x_arch)


def test_calibration_batches_of_image_files_are_those_of_the_arrays(tmp_path: Path) -> None:
    from nasforge.oneshot.calibration import calibration_batches

    task = load_image_task(_folder(tmp_path, per_class=8), image_size=8)
    streamed = calibration_batches(task.x_train, 4, 2, seed=3)
    in_memory = calibration_batches(np.asarray(task.x_train), 4, 2, seed=3)
    assert len(streamed) == len(in_memory) == 2
    assert all(torch.equal(a, b) for a, b in zip(streamed, in_memory, strict=True))
