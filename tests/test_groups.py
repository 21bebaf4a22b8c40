"""Validation on unseen groups: splits of whole groups (a property over random layouts), the
group options of csv, text and audio tasks, FSDD with one speaker held out, bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.data.audio import load_audio_task
from nasforge.data.groups import group_split, groups_from_names
from nasforge.data.loaders import load_csv_task
from nasforge.data.task import DataError, make_task
from nasforge.data.text import load_text_task

runner = CliRunner()
SPEAKER = r"^\d_([a-z]+)_"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def test_no_group_lands_on_both_sides_of_a_split_over_random_layouts() -> None:
    rng = np.random.default_rng(1234)
    for _ in range(300):
        n_groups = int(rng.integers(2, 15))
        sizes = rng.integers(1, 40, size=n_groups)
        groups = np.repeat([f"g{i}" for i in range(n_groups)], sizes)
        rng.shuffle(groups)
        labels = rng.integers(0, int(rng.integers(2, 6)), size=len(groups))
        fraction = float(rng.uniform(0.05, 0.6))
        kept, split_off = group_split(labels, groups, fraction, seed=int(rng.integers(100)))
        assert len(kept) and len(split_off)
        assert not set(groups[kept]) & set(groups[split_off])
        assert sorted([*kept, *split_off]) == list(range(len(groups)))


def test_a_group_split_is_stratified_where_the_groups_allow_it() -> None:
    # groups a-d hold every class, e and f one class each: a split of e or f would take a
    # class away from validation (or from training)
    groups = np.array([g for g in "abcd" for _ in range(30)] + ["e"] * 30 + ["f"] * 30)
    labels = np.array([i % 3 for i in range(120)] + [0] * 30 + [1] * 30)
    for seed in range(10):
        _, split_off = group_split(labels, groups, 0.2, seed)
        assert set(groups[split_off]) <= set("abcd")
        assert set(labels[split_off]) == {0, 1, 2}
        assert len(split_off) == 30


def test_make_task_validates_on_whole_groups_and_retrains_on_all() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = np.arange(200) % 2
    groups = np.array([f"s{i % 7}" for i in range(200)])
    task = make_task("t", x, y, x[:10], y[:10], valid_fraction=0.2, groups=groups)
    assert task.valid_groups and not set(task.valid_groups) - {f"s{i}" for i in range(7)}
    held = np.isin(groups, task.valid_groups)
    assert len(task.y_valid) == held.sum() and len(task.y_train) == (~held).sum()
    final = task.for_final_training()
    assert len(final.y_train) == 200
    plain = make_task("t", x, y, x[:10], y[:10], valid_fraction=0.2)
    assert plain.valid_groups == () and len(plain.for_final_training().y_train) == 200
    no_valid = dataclasses.replace(plain, x_valid=plain.x_valid[:0], y_valid=plain.y_valid[:0])
    assert no_valid.for_final_training() is no_valid


def test_csv_and_text_tables_take_a_group_column(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},p{i % 6},{i % 2}" for i in range(240)]
    table = tmp_path / "t.csv"
    table.write_text("a,b,patient,label\n" + "\n".join(rows) + "\n")
    task = load_csv_task(table, group_column="patient")
    assert task.input_shape == (2,)  # the group column is not a feature
    assert task.valid_groups and len(task.valid_groups) < 6
    texts = tmp_path / "texts.csv"
    lines = [f"word{i % 5} other{i % 3},{'ab'[i % 2]},site{i % 5}" for i in range(200)]
    texts.write_text("text,label,source\n" + "\n".join(lines) + "\n")
    text_task = load_text_task(texts, group_column="source")
    assert text_task.valid_groups and set(text_task.valid_groups) < {f"site{i}" for i in range(5)}


@pytest.fixture(scope="module")
def fsdd() -> Path:
    return shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent


def _speaker_manifest(fsdd: Path, folder: Path, held_out: str, indices: range) -> Path:
    """A manifest of FSDD digits 0-3 of every speaker, ``held_out``'s recordings the test
    split (absolute paths)."""
    rows = [
        f"{fsdd / f'{digit}_{speaker}_{index}.wav'},{digit},"
        f"{'test' if speaker == held_out else 'train'}"
        for digit in "0123"
        for speaker in SPEAKERS
        for index in indices
    ]
    manifest = folder / "manifest.csv"
    manifest.write_text("path,label,split\n" + "\n".join(rows) + "\n")
    return manifest


@pytest.mark.slow
def test_fsdd_with_one_speaker_held_out_validates_on_other_unseen_speakers(
    fsdd: Path, tmp_path: Path
) -> None:
    manifest = _speaker_manifest(fsdd, tmp_path, "theo", range(10))
    args = ["search", "--task", "audio", "--data", str(manifest), "--group-pattern", SPEAKER,
            "--budget", "2", "--epochs", "1", "--final-epochs", "1", "--threads", "1",
            "--workers", "1", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "validating on unseen groups:" in result.stderr
    payload = json.loads(result.stdout)
    valid = payload["valid_groups"]
    assert payload["final"]["valid_trained"] is True
    report = runner.invoke(app, ["report", "--out", "r.html"])
    assert report.exit_code == 0, report.output
    assert "(trained on: not held out)" in Path("r.html").read_text()
    assert valid and "theo" not in valid and set(valid) < set(SPEAKERS)
    task = load_audio_task(manifest, group_pattern=SPEAKER)
    assert task.valid_groups == tuple(valid)
    # the examples of the validation speakers are exactly the validation split
    per_speaker = 40  # 4 digits x 10 recordings
    assert len(task.y_valid) == per_speaker * len(valid)
    assert len(task.y_train) == per_speaker * (5 - len(valid))
    assert len(task.y_test) == per_speaker
    shutil.rmtree(tmp_path / "models")


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("csv", ["--group-column", "patient"], "has no group column 'patient'"),
        ("text", ["--group-column", "patient"], "has no group column 'patient'"),
        ("manifest", ["--group-column", "speaker"], "has no group column 'speaker'"),
        ("manifest", ["--group-pattern", r"^speaker(\d)"], "matches none of the"),
        ("csv", ["--group-column", "site"], "a split of whole groups needs at least 2"),
        ("text", ["--group-column", "site"], "a split of whole groups needs at least 2"),
        ("csv", ["--group-pattern", "x"], "--group-pattern applies to --task audio"),
        ("folder", ["--group-column", "speaker"], "names a column of a manifest"),
        ("folder", ["--group-pattern", r"_(theo)_"], "does not match 16 of the 32 file names"),
    ],
)
def test_bad_group_input_is_one_line_and_writes_nothing(
    fsdd: Path, tmp_path: Path, kind: str, extra: list[str], message: str
) -> None:
    if kind == "csv":
        data = tmp_path / "t.csv"
        rows = [f"{i % 7},{i % 5},{'one' if i < 60 else 'two'},{i % 2}" for i in range(80)]
        data.write_text("a,b,site,label\n" + "\n".join(rows) + "\n")
    elif kind == "text":
        data = tmp_path / "texts.csv"
        rows = [f"w{i % 5} v{i % 3},{'ab'[i % 2]},{'one' if i < 60 else 'two'}" for i in range(80)]
        data.write_text("text,label,site\n" + "\n".join(rows) + "\n")
    elif kind == "folder":
        data = tmp_path / "flat"
        data.mkdir()
        for name in (f"{d}_{s}_{i}.wav" for d in "0123" for s in ("theo", "lucas") for i in "0123"):
            shutil.copy(fsdd / name, data / name)
        extra = [*extra, "--label-pattern", r"^(\d)_"]
    else:
        data = _speaker_manifest(fsdd, tmp_path, "theo", range(2))
    task = "audio" if kind in ("manifest", "folder") else kind
    result = runner.invoke(app, ["search", "--task", task, "--data", str(data), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "nasforge.sqlite").exists()


def test_a_group_pattern_must_match_every_file_name() -> None:
    names = ["0_theo_1.wav", "1_lucas_2.wav", "noise.wav"]
    with pytest.raises(DataError, match=r"does not match 1 of the 3 file names \(e.g. noise"):
        groups_from_names(names, SPEAKER, "--group-pattern")
    assert groups_from_names(names[:2], SPEAKER, "--group-pattern") == ["theo", "lucas"]


def test_a_group_split_of_one_group_is_refused() -> None:
    with pytest.raises(DataError, match="1 group"):
        group_split([0, 1, 0, 1], ["a", "a", "a", "a"], 0.5, 0)
