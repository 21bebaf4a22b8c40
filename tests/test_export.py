"""The saved-model folder: round trip in a fresh process, no pickle, clear errors on bad folders."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sklearn.datasets import load_digits
from torch import nn

from nasforge.arch import Arch
from nasforge.data import DataError, Task, load_digits_task, make_task, stratified_split
from nasforge.errors import ConfigError
from nasforge.export import ExportError, LoadedModel, load_model, read_input_file, save_model
from nasforge.space import SPACES
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.nb201.space import NB201Space
from nasforge.training import TrainConfig, Trainer

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
FILES = {"arch.json", "model.safetensors", "metrics.json"}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Small networks: one thread avoids spin-waiting when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_digits_task(seed=0)


@pytest.fixture(scope="module")
def trained(digits: Task) -> tuple[NB201Space, Arch, nn.Module]:
    """A small NB201 net trained for one epoch: its BatchNorm running stats are not the init."""
    space = NB201Space(channels=4, cells_per_stage=1)
    arch = space.parse(CELL)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = space.build(arch, digits.input_shape, digits.num_classes)
    Trainer(TrainConfig(epochs=1, threads=1)).fit(net, digits)
    return space, arch, net.eval()


@pytest.fixture(scope="module")
def saved(
    trained: tuple[NB201Space, Arch, nn.Module],
    digits: Task,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    space, arch, net = trained
    folder = tmp_path_factory.mktemp("export") / "winner"
    return save_model(
        folder,
        space=space,
        arch=arch,
        model=net,
        task=digits,
        metrics={"valid_accuracy": 0.5, "params": 1234},
        train_config={"epochs": 1, "lr": 0.05},
    )


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def predictions(net: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    net.eval()
    with torch.inference_mode():
        batches = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
        logits = [net(torch.from_numpy(np.array(xb))) for xb in batches]
    return torch.cat(logits).argmax(1).numpy()


def raw_digits_test_images() -> np.ndarray:
    """The test split of the digits task as raw ``(N, 8, 8)`` images, before normalization."""
    data = load_digits()
    _, test_idx = stratified_split(np.asarray(data.target), 0.2, 0)
    return np.asarray(data.images, dtype=np.float32)[test_idx] / 16.0


# -- the round trip ---------------------------------------------------------------------


FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy as np
    from nasforge.export import load_model, read_input_file

    loaded = load_model(sys.argv[1])
    x = read_input_file(sys.argv[2])
    np.save(sys.argv[3], loaded.predict(x, batch_size=100))
    print(loaded.arch, loaded.space.format(loaded.arch))
    """
)


def test_a_fresh_process_predicts_on_raw_files_what_the_trained_net_predicts(
    saved: Path, trained: tuple[NB201Space, Arch, nn.Module], digits: Task, tmp_path: Path
) -> None:
    space, arch, net = trained
    raw = raw_digits_test_images()
    np.savez(tmp_path / "raw.npz", x_test=raw)  # no "x": read_input_file falls back to x_test
    out = tmp_path / "predicted.npy"
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(saved), str(tmp_path / "raw.npz"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(arch), space.format(arch)]
    expected = predictions(net, digits.x_test)
    assert np.array_equal(np.load(out), expected)
    assert (expected == digits.y_test).mean() > 0.2  # a trained net, not a constant one


def test_loaded_model_carries_what_was_saved(
    saved: Path, trained: tuple[NB201Space, Arch, nn.Module], digits: Task
) -> None:
    space, arch, _ = trained
    loaded = load_model(saved)
    assert isinstance(loaded, LoadedModel)
    assert loaded.arch == arch and list(loaded.arch) == list(arch)
    assert isinstance(loaded.space, NB201Space) and loaded.space.config() == space.config()
    assert loaded.input_shape == (1, 8, 8) and loaded.num_classes == 10
    assert loaded.class_names is None
    assert loaded.metrics == {"valid_accuracy": 0.5, "params": 1234.0}
    assert loaded.train_config == {"epochs": 1, "lr": 0.05}
    assert not loaded.model.training
    assert np.array_equal(loaded.mean, digits.mean) and np.array_equal(loaded.std, digits.std)
    assert loaded.mean.dtype == np.float32 and loaded.mean.shape == digits.mean.shape


def test_raw_inputs_are_normalized_exactly_like_the_task(saved: Path, digits: Task) -> None:
    loaded = load_model(saved)
    raw = raw_digits_test_images()
    assert np.array_equal(loaded.prepare(raw), digits.x_test)  # (N, H, W)
    assert np.array_equal(loaded.prepare(raw[:, None]), digits.normalize(raw[:, None]))
    proba = loaded.predict_proba(raw, batch_size=50)
    assert proba.shape == (len(raw), 10) and proba.dtype == np.float32
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(loaded.predict(raw[:0]), np.zeros(0, np.int64))


def test_batchnorm_running_stats_survive_the_round_trip(
    saved: Path, trained: tuple[NB201Space, Arch, nn.Module], digits: Task
) -> None:
    _, _, net = trained
    original = net.state_dict()
    assert any(name.endswith("running_var") for name in original)
    running = [t for name, t in original.items() if name.endswith("running_var")]
    assert not all(torch.equal(t, torch.ones_like(t)) for t in running)  # training moved them
    loaded = load_model(saved)
    restored = loaded.model.state_dict()
    assert list(restored) == list(original)
    for name, tensor in original.items():
        assert torch.equal(restored[name], tensor), name
    x = torch.from_numpy(np.array(digits.x_test[:64]))
    net.eval()
    with torch.inference_mode():
        assert torch.equal(loaded.model(x), net(x))


def test_loading_leaves_the_callers_random_state_alone(saved: Path) -> None:
    state = torch.get_rng_state()
    load_model(saved)
    assert torch.equal(torch.get_rng_state(), state)


# -- what is in the folder --------------------------------------------------------------


def test_the_folder_holds_plain_json_and_safetensors_only(
    saved: Path, trained: tuple[NB201Space, Arch, nn.Module], digits: Task
) -> None:
    space, arch, net = trained
    assert {p.name for p in saved.iterdir()} == FILES
    assert not list(saved.parent.glob(".*"))  # no temporary folder left behind
    blob = (saved / "model.safetensors").read_bytes()
    (header_size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_size])
    assert set(header) - {"__metadata__"} == set(net.state_dict())
    assert not blob.startswith(b"\x80") and not blob.startswith(b"PK")  # no pickle, no zip

    record = json.loads((saved / "arch.json").read_text())
    assert record["format"] == "nasforge-model" and record["version"] == 1
    assert record["space"] == {"name": "nb201", "params": {"channels": 4, "cells_per_stage": 1}}
    assert list(record["arch"].items()) == list(arch.items())
    assert Arch.parse(record["arch_text"]) == arch
    assert record["formatted"] == CELL == space.format(arch)
    assert "hyperparameters" not in record
    assert record["input_shape"] == [1, 8, 8] and record["num_classes"] == 10
    assert record["class_names"] is None
    norm = record["normalization"]
    assert np.array_equal(np.asarray(norm["mean"], np.float32), digits.mean)
    assert np.array_equal(np.asarray(norm["std"], np.float32), digits.std)
    assert norm["shape"] == [1]
    assert record["train_config"] == {"epochs": 1, "lr": 0.05}
    assert json.loads((saved / "metrics.json").read_text()) == {
        "valid_accuracy": 0.5,
        "params": 1234.0,
    }


def test_non_finite_metrics_are_written_as_null(
    trained: tuple[NB201Space, Arch, nn.Module], digits: Task, tmp_path: Path
) -> None:
    space, arch, net = trained
    folder = save_model(
        tmp_path / "m", space=space, arch=arch, model=net, task=digits, metrics={"loss": np.inf}
    )
    assert json.loads((folder / "metrics.json").read_text()) == {"loss": None}
    assert np.isnan(load_model(folder).metrics["loss"])


# -- saving: overwrite and mismatches ---------------------------------------------------


def test_saving_refuses_to_overwrite_a_non_empty_folder(
    trained: tuple[NB201Space, Arch, nn.Module], digits: Task, tmp_path: Path
) -> None:
    space, arch, net = trained
    target = tmp_path / "model"
    target.mkdir()  # an empty folder is fine
    save_model(target, space=space, arch=arch, model=net, task=digits, metrics={"a": 1.0})
    with pytest.raises(ConfigError, match=r"already exists and is not empty.*overwrite=True"):
        save_model(target, space=space, arch=arch, model=net, task=digits)
    assert json.loads((target / "metrics.json").read_text()) == {"a": 1.0}  # untouched

    (target / "notes.txt").write_text("replaced with the folder")
    save_model(target, space=space, arch=arch, model=net, task=digits, overwrite=True)
    assert {p.name for p in target.iterdir()} == FILES
    assert json.loads((target / "metrics.json").read_text()) == {}
    assert [p.name for p in tmp_path.iterdir()] == ["model"]

    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        save_model(file, space=space, arch=arch, model=net, task=digits, overwrite=True)


def test_saving_a_model_that_is_not_the_arch_network_fails(
    trained: tuple[NB201Space, Arch, nn.Module], digits: Task, tmp_path: Path
) -> None:
    space, _, net = trained
    other = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    with pytest.raises(ExportError, match=r"do not match the network.*unexpected"):
        save_model(tmp_path / "m", space=space, arch=other, model=net, task=digits)
    with pytest.raises(ExportError, match="does not fit space"):
        save_model(tmp_path / "m", space=space, arch=Arch({"x": 1}), model=net, task=digits)
    with pytest.raises(ConfigError, match="train_config"):
        save_model(
            tmp_path / "m",
            space=space,
            arch=space.parse(CELL),
            model=net,
            task=digits,
            train_config={"device": torch.device("cpu")},
        )
    assert not (tmp_path / "m").exists()


# -- loading broken folders -------------------------------------------------------------


def test_a_tampered_weight_shape_is_a_clear_error(saved: Path, tmp_path: Path) -> None:
    folder = copy_of(saved, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    name = next(n for n in tensors if n.endswith("weight") and tensors[n].ndim == 4)
    tensors[name] = torch.zeros(*tensors[name].shape[:-1], tensors[name].shape[-1] + 1)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ExportError, match=f"shape mismatch: {name}") as info:
        load_model(folder)
    assert "\n" not in str(info.value)


def test_missing_or_extra_weights_are_clear_errors(saved: Path, tmp_path: Path) -> None:
    folder = copy_of(saved, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    dropped = next(n for n in tensors if n.endswith("running_mean"))
    del tensors[dropped]
    tensors["extra.weight"] = torch.zeros(2)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ExportError, match=f"missing 1 \\({dropped}\\); unexpected 1 \\(extra"):
        load_model(folder)


@pytest.mark.parametrize("name", ["arch.json", "model.safetensors"])
def test_a_missing_file_is_a_clear_error(saved: Path, tmp_path: Path, name: str) -> None:
    folder = copy_of(saved, tmp_path)
    (folder / name).unlink()
    with pytest.raises(ExportError, match=f"not a saved model: {name} is missing"):
        load_model(folder)


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(ExportError, match="is not a folder"):
        load_model(tmp_path / "file")


def test_corrupt_weights_are_a_clear_error(saved: Path, tmp_path: Path) -> None:
    folder = copy_of(saved, tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x80\x04not safetensors at all")
    with pytest.raises(ExportError, match=r"cannot read .* as safetensors"):
        load_model(folder)


def edit(record: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["format"], "something-else", "not a nasforge model file"),
        (["version"], 99, "format version 99.*upgrade"),
        (["space", "name"], "no_such_space", "cannot rebuild the search space.*no_such_space"),
        (["space", "params"], {"width": 3}, "cannot rebuild the search space.*has no option width"),
        (["arch", "node1_in0"], "conv_9x9", "does not fit space 'nb201'.*conv_9x9"),
        (["arch"], {"depth": 3}, "does not fit space 'nb201'"),
        (["input_shape"], [1, 2, 2], "cannot build the network"),
        (["input_shape"], "1x8x8", "malformed.*input_shape"),
        (["num_classes"], 0, "malformed.*num_classes"),
        (["normalization", "mean"], [0.0, 0.0], "malformed.*normalization"),
        (["class_names"], ["a"], "malformed.*class_names"),
    ],
)
def test_a_bad_arch_json_is_a_clear_error(
    saved: Path, tmp_path: Path, path: list[str], value: Any, message: str
) -> None:
    folder = copy_of(saved, tmp_path)
    record = json.loads((folder / "arch.json").read_text())
    edit(record, path, value)
    (folder / "arch.json").write_text(json.dumps(record))
    with pytest.raises(ExportError, match=message) as info:
        load_model(folder)
    assert "\n" not in str(info.value)


def test_invalid_json_is_a_clear_error(saved: Path, tmp_path: Path) -> None:
    folder = copy_of(saved, tmp_path)
    (folder / "arch.json").write_text('{"format": "nasforge-model",')
    with pytest.raises(ExportError, match=r"arch.json is not valid JSON: .*line 1"):
        load_model(folder)


def test_a_different_num_classes_is_a_weight_mismatch(saved: Path, tmp_path: Path) -> None:
    folder = copy_of(saved, tmp_path)
    record = json.loads((folder / "arch.json").read_text())
    record["num_classes"] = 3
    (folder / "arch.json").write_text(json.dumps(record))
    with pytest.raises(ExportError, match="3 classes: shape mismatch: classifier"):
        load_model(folder)


# -- inputs -----------------------------------------------------------------------------


def test_inputs_of_the_wrong_shape_name_what_is_expected(saved: Path) -> None:
    loaded = load_model(saved)
    with pytest.raises(ExportError, match=r"\(N, 1, 8, 8\) or \(N, 8, 8\).*got \(5, 8, 9\)"):
        loaded.predict(np.zeros((5, 8, 9), np.float32))
    with pytest.raises(ExportError, match="got a scalar"):
        loaded.predict(np.float32(1.0))
    with pytest.raises(ExportError, match="NaN or infinite values in 1 rows"):
        loaded.predict(np.array([np.zeros((8, 8)), np.full((8, 8), np.nan)]))
    with pytest.raises(ExportError, match="numeric"):
        loaded.predict(np.array([["a"] * 8] * 8)[None])


def test_uint8_hwc_images_are_read_like_the_npz_loader(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8)  # NHWC, like CIFAR files
    labels = np.arange(40) % 4
    model_layout = raw.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    task = make_task("rgb", model_layout[:30], labels[:30], model_layout[30:], labels[30:])
    space = NB201Space(channels=4, cells_per_stage=1)
    arch = space.parse(CELL)
    net = space.build(arch, task.input_shape, task.num_classes).eval()
    folder = save_model(tmp_path / "rgb", space=space, arch=arch, model=net, task=task)
    np.save(tmp_path / "x.npy", raw[30:])
    loaded = load_model(folder)
    x = read_input_file(tmp_path / "x.npy")
    assert x.dtype == np.uint8
    assert np.array_equal(loaded.prepare(x), task.x_test)
    assert np.array_equal(loaded.predict(x), predictions(net, task.x_test))
    with pytest.raises(ExportError, match=r"\(N, 3, 8, 8\) or \(N, 8, 8, 3\)"):
        loaded.predict(raw[:, :, :, :2])


# -- a custom space: tied weights, hyperparameters, tables ------------------------------


class TiedNet(nn.Module):
    """A table classifier whose two hidden layers share one weight matrix."""

    def __init__(self, features: int, hidden: int, classes: int, activation: str) -> None:
        super().__init__()
        self.inp = nn.Linear(features, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.first = nn.Linear(hidden, hidden)
        self.second = nn.Linear(hidden, hidden)
        self.second.weight = self.first.weight
        self.out = nn.Linear(hidden, classes)
        self.act = nn.Tanh() if activation == "tanh" else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm(self.inp(x)))
        out: torch.Tensor = self.out(self.act(self.second(self.act(self.first(h)))))
        return out


class TiedSpace(SearchSpace):
    name = "tied_test"

    def __init__(self, hidden: int = 8) -> None:
        self.hidden = hidden
        self._decisions = (
            Decision("activation", ("relu", "tanh")),
            Decision("hp.lr", (0.1, 0.01)),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (4,), num_classes: int = 2
    ) -> nn.Module:
        return TiedNet(input_shape[0], self.hidden, num_classes, str(arch["activation"]))

    def config(self) -> dict[str, Any]:
        return {"hidden": self.hidden}


def test_tied_weights_hyperparameters_and_csv_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SPACES, TiedSpace.name, TiedSpace)
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, size=(60, 5)).astype(np.float32)
    y = np.arange(60) % 3
    task = make_task("table", x[:45], y[:45], x[45:], y[45:], class_names=("a", "b", "c"))
    space = TiedSpace(hidden=6)
    arch = Arch({"activation": "tanh", "hp.lr": 0.01})
    net = space.build(arch, task.input_shape, task.num_classes)
    net.train()
    with torch.no_grad():
        net(torch.from_numpy(np.array(task.x_train)))  # move the BatchNorm running stats
    net.eval()
    folder = save_model(tmp_path / "tied", space=space, arch=arch, model=net, task=task)

    record = json.loads((folder / "arch.json").read_text())
    assert record["hyperparameters"] == {"lr": 0.01}
    assert record["class_names"] == ["a", "b", "c"]
    assert record["normalization"]["shape"] == [5]
    stored = load_file(folder / "model.safetensors")
    assert "first.weight" in stored and "second.weight" not in stored  # stored once

    loaded = load_model(folder)
    assert loaded.hyperparameters == {"lr": 0.01}
    assert loaded.class_names == ("a", "b", "c")
    model = loaded.model
    assert isinstance(model, TiedNet) and model.second.weight is model.first.weight
    assert isinstance(net, TiedNet) and torch.equal(model.second.weight, net.second.weight)

    header = "f1,f2,label,f3,f4,f5\n"
    rows = [",".join([*map(repr, r[:2].tolist()), "a", *map(repr, r[2:].tolist())]) for r in x]
    (tmp_path / "table.csv").write_text(header + "\n".join(rows[45:]) + "\n")
    table = read_input_file(tmp_path / "table.csv", label_column="label")
    assert np.array_equal(table, x[45:])
    assert np.array_equal(loaded.predict(table), predictions(net, task.x_test))
    with pytest.raises(ExportError, match=r"\(N, 5\), got \(15, 6\)"):
        loaded.predict(np.hstack([table, table[:, :1]]))


# -- read_input_file --------------------------------------------------------------------


def test_read_input_file_formats(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.savez(tmp_path / "both.npz", x=x, x_test=x + 1)
    assert np.array_equal(read_input_file(tmp_path / "both.npz"), x)
    np.save(tmp_path / "x.npy", x)
    assert np.array_equal(read_input_file(tmp_path / "x.npy"), x)
    (tmp_path / "plain.csv").write_text("0,1,2\n3,4,5\n\n6,7,8\n9,10,11\n")
    assert np.array_equal(read_input_file(tmp_path / "plain.csv"), x)


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("missing.npy", None, {}, "no such input file"),
        ("other.npz", {"y": np.zeros(3)}, {}, "no array 'x' or 'x_test' \\(arrays: y\\)"),
        ("objects.npy", np.array([{"a": 1}], dtype=object), {}, "cannot read .*objects.npy"),
        ("broken.npz", b"not a zip", {}, "cannot read .*broken.npz"),
        ("x.txt", "1,2", {}, "expected a .npz, .npy or .csv"),
        ("bad.csv", "a,b\n1,x\n", {}, "line 2, column 'b': 'x' is not a number"),
        ("ragged.csv", "1,2\n3\n", {}, "line 2 has 1 fields, expected 2"),
        ("nolabel.csv", "a,b\n1,2\n", {"label_column": "label"}, "no column 'label'"),
        ("noheader.csv", "1,2\n", {"label_column": "label"}, "no header row"),
        ("empty.csv", "", {}, "is empty"),
        ("x.npy", np.zeros(2), {"label_column": "label"}, "only"),
    ],
)
def test_read_input_file_errors(
    tmp_path: Path, name: str, content: Any, options: dict[str, Any], message: str
) -> None:
    file = tmp_path / name
    if isinstance(content, dict):
        np.savez(file, **content)
    elif isinstance(content, np.ndarray):
        np.save(file, content, allow_pickle=True)
    elif isinstance(content, bytes):
        file.write_bytes(content)
    elif isinstance(content, str):
        file.write_text(content)
    with pytest.raises(DataError, match=message):
        read_input_file(file, **options)
