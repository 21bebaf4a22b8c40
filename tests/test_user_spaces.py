"""User spaces named by a spec (``file.py:Class``, ``module:Class``): loading, records that
rebuild them, every command's ``--space``, bad input (exit 2, one line, nothing written) and
the example searched, saved and used for predictions end to end."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.data.task import apply_normalization
from nasforge.errors import SpaceError
from nasforge.export import load_model
from nasforge.space import make_space, space_key
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.choices.user_space import UserSpace
from nasforge.space.loading import load_class, load_space

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "small_cnn.py"
SPEC = f"{EXAMPLE}:SmallCNN"
ONE_EPOCH = ["--epochs", "1", "--workers", "1", "--threads", "1"]

HEADER = "import torch\nfrom torch import nn\n\n"
TINY_NET = (
    HEADER
    + """
class Net(nn.Module):
    def __init__(self, choices, input_shape, num_classes, hidden=8):
        super().__init__()
        width = choices.choose_value("width", [hidden, 2 * hidden])
        self.body = nn.Sequential(nn.Flatten(), nn.LazyLinear(width), nn.ReLU())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""
)
BAD_SPACES = {
    "no_choices": (
        HEADER
        + """
class Net(nn.Module):
    def __init__(self, choices):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))
""",
        "Net asks for no choices",
    ),
    "label_twice": (
        HEADER
        + """
class Net(nn.Module):
    def __init__(self, choices):
        super().__init__()
        a = choices.choose_value("width", [8, 16])
        b = choices.choose_value("width", [8, 32])
        self.fc = nn.Linear(64, a + b)

    def forward(self, x):
        return self.fc(x.flatten(1))
""",
        "label 'width' is used for two different choices",
    ),
    "never_holds": (
        HEADER
        + """
class Net(nn.Module):
    def __init__(self, choices):
        super().__init__()
        width = choices.choose_value("width", [8, 16])
        if choices.when("width", 64):
            width = choices.choose_value("extra", [1, 2]) * width
        self.fc = nn.Linear(64, width)

    def forward(self, x):
        return self.fc(x.flatten(1))
""",
        "condition 'width' in [64] never holds",
    ),
    "wrong_shape": (
        HEADER
        + """
class Net(nn.Module):
    def __init__(self, choices, num_classes):
        super().__init__()
        width = choices.choose_value("width", [8, 16])
        self.fc = nn.Sequential(nn.Linear(100, width), nn.Linear(width, num_classes))

    def forward(self, x):
        return self.fc(x.flatten(1))
""",
        "space 'Net' does not run on input shape (1, 8, 8)",
    ),
    "multiline_error": (
        HEADER
        + """
class Net(nn.Module):
    def __init__(self, choices):
        super().__init__()
        self.width = choices.choose_value("width", [8, 16])

    def forward(self, x):
        raise ValueError("this net needs 3 channels\\nsecond line of the message")
""",
        "space 'Net' does not run on input shape (1, 8, 8): ValueError: this net needs 3 "
        "channels | second line",
    ),
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own folder: a default store or models/ folder lands there."""
    monkeypatch.chdir(tmp_path)


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _user_error(*args: str) -> str:
    code, stdout, stderr = _run(*args)
    assert code == 2, (code, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasforge: error: "), stderr
    return lines[0]


def _written(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix != ".py")


# -- loading -----------------------------------------------------------------------------------


def test_a_file_spec_gives_a_choice_space_that_rebuilds_from_its_record() -> None:
    space = make_space(SPEC)
    assert isinstance(space, UserSpace) and isinstance(space, ChoiceSpace)
    assert space.name == "SmallCNN" and space_key(space) == SPEC
    assert [d.label for d in space.decisions][:3] == ["width", "depth", "kernel_0"]
    again = make_space(space_key(space), **space.config())
    assert again.decisions == space.decisions
    assert load_class(SPEC) is space.model  # a file is imported once per process
    copy = pickle.loads(pickle.dumps(space))  # a worker process imports the file itself
    assert isinstance(copy, UserSpace) and copy.decisions == space.decisions
    arch = space.sample(np.random.default_rng(0))
    assert copy.validate(arch) == arch


def test_a_relative_path_is_recorded_absolute_and_options_reach_the_class(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny.py").write_text(TINY_NET)
    space = make_space("tiny.py:Net", hidden=4)
    assert space_key(space) == f"{tmp_path / 'tiny.py'}:Net"
    assert space.config() == {"hidden": 4}
    assert space.decisions[0].choices == (4, 8)
    with pytest.raises(SpaceError, match=r"bad options for space 'tiny\.py:Net'"):
        make_space("tiny.py:Net", depth=3)


def test_a_module_spec_and_hyperparameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(TINY_NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    space = make_space("userpkg.nets:Net", hyperparameters={"lr": [0.01, 0.1]})
    assert space_key(space) == "userpkg.nets:Net"
    assert [d.label for d in space.decisions] == ["width", "hp.lr"]
    rebuilt = make_space(space_key(space), **space.config())
    assert rebuilt.decisions == space.decisions


def test_a_search_space_subclass_in_a_file_is_built_with_the_options(tmp_path: Path) -> None:
    (tmp_path / "spaces.py").write_text(
        TINY_NET
        + """
from nasforge.space.choices.space import ChoiceSpace


class MySpace(ChoiceSpace):
    def __init__(self, hidden=8):
        super().__init__(Net, hidden=hidden)
"""
    )
    space = make_space("spaces.py:MySpace", hidden=4)
    assert type(space).__name__ == "MySpace" and space.decisions[0].choices == (4, 8)
    assert space_key(space) == f"{tmp_path / 'spaces.py'}:MySpace"
    copy = pickle.loads(pickle.dumps(space))
    assert type(copy) is type(space) and copy.decisions == space.decisions


def test_a_choice_space_records_an_importable_class_as_module_and_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    (tmp_path / "usernets.py").write_text(TINY_NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    net = importlib.import_module("usernets").Net
    assert space_key(ChoiceSpace(net)) == "usernets:Net"
    assert space_key(ChoiceSpace(load_class(SPEC))) == "SmallCNN"  # loaded by path: no module
    assert space_key(make_space("nb201")) == "nb201"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("missing.py:Net", "the file {tmp}/missing.py does not exist"),
        ("tiny.py:Nope", "tiny.py has no class 'Nope' (classes there: Net)"),
        ("tiny.py:torch", "'torch' in {tmp}/tiny.py is not a space"),
        ("no_such_package.mod:Net", "no module named 'no_such_package'"),
        ("tiny.py:", "must read path/to/file.py:ClassName or package.module:ClassName"),
        ("broken.py:Net", "importing {tmp}/broken.py failed: ZeroDivisionError: division by zero"),
        ("script.py:Net", 'exits the program; put script code under if __name__ == "__main__":'),
    ],
)
def test_specs_that_name_nothing_loadable(tmp_path: Path, spec: str, needle: str) -> None:
    (tmp_path / "tiny.py").write_text(TINY_NET + "\ntorch = torch\n")
    (tmp_path / "broken.py").write_text(TINY_NET + "\n1 / 0\n")
    (tmp_path / "script.py").write_text(TINY_NET + "\nimport sys\nsys.exit(3)\n")
    with pytest.raises(SpaceError) as caught:
        load_space(spec)
    assert needle.format(tmp=tmp_path) in str(caught.value)
    assert "\n" not in str(caught.value)


# -- bad input from the CLI: exit 2, one line, nothing written ---------------------------------


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_user_spaces_are_one_line_and_write_nothing(tmp_path: Path, case: str) -> None:
    source, needle = BAD_SPACES[case]
    (tmp_path / "bad.py").write_text(source)
    line = _user_error(
        "search", "--space", "bad.py:Net", "--budget", "2", *ONE_EPOCH, "--store", "s.sqlite"
    )
    assert needle in line
    assert _written(tmp_path) == []


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nowhere/gone.py:Net", "gone.py does not exist"),
        ("tiny.py:Missing", "has no class 'Missing'"),
    ],
)
def test_every_command_reports_a_missing_file_or_class(
    tmp_path: Path, spec: str, needle: str
) -> None:
    (tmp_path / "tiny.py").write_text(TINY_NET)
    arch = "width=8"
    commands = [
        ["search", "--space", spec, "--budget", "2", *ONE_EPOCH, "--store", "s.sqlite"],
        ["oneshot", "--space", spec, "--method", "spos", "--epochs", "1", "--out", "m"],
        ["proxies", "--space", spec, "--task", "digits", "--sample", "2", "--out", "p.csv"],
        ["train", arch, "--space", spec, "--epochs", "1", "--out", "m"],
    ]
    for command in commands:
        assert needle in _user_error(*command), command
    assert _written(tmp_path) == []


def test_a_model_whose_space_file_moved_names_the_path_and_the_way_out(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "mine.py")
    arch = "width=16,depth=1,kernel_0=3,op_0=conv,skip_0=true"
    code, _, stderr = _run(
        "train", arch, "--space", "mine.py:SmallCNN", "--epochs", "1", "--threads", "1"
    )
    assert code == 0, stderr
    model_dir = tmp_path / "models" / "trained"
    record = json.loads((model_dir / "arch.json").read_text())
    assert record["space"] == {"name": f"{tmp_path / 'mine.py'}:SmallCNN", "params": {}}
    raw = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", raw)
    code, before, stderr = _run("predict", str(model_dir), "--data", "x.npy", "--trust-space-code")
    assert code == 0, stderr

    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "mine.py").rename(tmp_path / "elsewhere" / "mine.py")
    line = _user_error("predict", str(model_dir), "--data", "x.npy", "--trust-space-code")
    assert f"{tmp_path / 'mine.py'}, does not exist" in line
    assert "--space PATH.py:CLASS" in line
    code, after, stderr = _run(
        "predict", str(model_dir), "--data", "x.npy", "--space", "elsewhere/mine.py:SmallCNN"
    )
    assert code == 0, stderr
    assert after == before
    assert "must name a file or module" in _user_error(
        "predict", str(model_dir), "--data", "x.npy", "--space", "SmallCNN"
    )


# -- the example end to end --------------------------------------------------------------------


def test_the_example_searched_with_evolution_predicts_after_save_and_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The winner's predictions on raw inputs before saving equal `nasforge predict`'s on the
    saved folder; the experiment records the spec, so `resume` rebuilds the space."""
    import nasforge.export

    raw = np.random.default_rng(1).random((40, 8, 8)).astype(np.float32)
    np.save(tmp_path / "raw.npy", raw)
    captured: dict[str, Any] = {}
    save_model = nasforge.export.save_model

    def capturing(directory: Any, **kwargs: Any) -> Path:
        model, task = kwargs["model"], kwargs["task"]
        model.eval()
        x = apply_normalization(raw[:, None], task.mean, task.std)
        with torch.inference_mode():
            captured["predictions"] = model(torch.from_numpy(x)).argmax(1).tolist()
        return save_model(directory, **kwargs)

    monkeypatch.setattr(nasforge.export, "save_model", capturing)
    code, stdout, stderr = _run(
        "search",
        "--space",
        SPEC,
        "--strategy",
        "evolution",
        "--budget",
        "3",
        "--final-epochs",
        "1",
        "--epochs",
        "1",
        "--workers",
        "2",  # spawned workers import the file themselves (the space pickles as its spec)
        "--threads",
        "1",
        "--store",
        "s.sqlite",
        "--json",
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["trials"] == 3 and payload["name"] == "digits-SmallCNN-evolution-seed0"
    model_dir = Path(payload["final"]["model_dir"])
    assert json.loads((model_dir / "arch.json").read_text())["space"]["name"] == SPEC

    code, stdout, stderr = _run(
        "predict", str(model_dir), "--data", "raw.npy", "--json", "--trust-space-code"
    )
    assert code == 0, stderr
    assert json.loads(stdout)["predictions"] == captured["predictions"]
    assert load_model(model_dir, trust_space_code=True).space.name == "SmallCNN"

    resume = ["resume", "--store", "s.sqlite", "--budget", "4", "--final-epochs", "0", "--json"]
    assert "--trust-space-code" in _user_error(*resume)
    code, stdout, stderr = _run(*resume, "--trust-space-code")
    assert code == 0, stderr
    assert json.loads(stdout)["trials"] == 4


def test_the_example_scored_by_proxies() -> None:
    code, stdout, stderr = _run(
        "proxies", "--space", SPEC, "--task", "digits", "--sample", "6", "-p", "params", "--json"
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["space"] == {"name": SPEC, "params": {}} and payload["count"] == 6
    space = make_space(SPEC)
    for row in payload["archs"]:  # archs of a conditional space hold their active decisions
        space.parse(row["arch"])


@pytest.mark.parametrize("method", ["spos", "darts"])
def test_the_example_searched_one_shot(tmp_path: Path, method: str) -> None:
    code, stdout, stderr = _run(
        "oneshot",
        "--space",
        SPEC,
        "--method",
        method,
        "--epochs",
        "1",
        "--threads",
        "1",
        "--out",
        "found",
        "--json",
    )
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["space"]["name"] == SPEC
    assert f"--space {SPEC}" in payload["retrain_command"]
    make_space(SPEC).parse(payload["arch_text"])
    assert load_model(tmp_path / "found", trust_space_code=True).space.name == "SmallCNN"
    searched_values = method == "spos"
    assert ("width" in payload["not_searched"]) is not searched_values


def test_the_guide_shows_the_example_whole_in_under_40_lines() -> None:
    import re

    page = (EXAMPLE.parents[1] / "docs" / "guide" / "own-space.md").read_text()
    (shown,) = re.findall(r"^# Write your own space\n.*?```python\n(.*?)```", page, re.S)
    example = EXAMPLE.read_text()
    assert example.endswith(shown) and example[: -len(shown)].count("\n") <= 2  # the docstring
    assert len(shown.splitlines()) < 40
