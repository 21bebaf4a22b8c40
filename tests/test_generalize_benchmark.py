"""The pure parts of `benchmarks/generalize.py`: the held-out manifests, resuming from the
JSON lines, and the table's mean and worst."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import shared_file

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "generalize.py"
SIZE = {
    "budget": 4,
    "epochs": 5,
    "final_epochs": 10,
    "seed": 0,
    "augment": "none",
    "utterance_norm": False,
}


@pytest.fixture(scope="module")
def generalize() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generalize_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def result(speaker: str, groups: bool, test: float, baseline: float, **size: Any) -> dict[str, Any]:
    return {
        "speaker": speaker,
        "groups": groups,
        **{**SIZE, **size},
        "valid_groups": ["lucas"] if groups else [],
        "test": test,
        "baseline_test": baseline,
        "seconds": 60.0,
    }


def test_manifest_holds_out_one_speaker(generalize: ModuleType, tmp_path: Path) -> None:
    for name in ("0_theo_0.wav", "7_theo_49.wav", "3_lucas_1.wav", "9_george_2.wav"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a recording")
    manifest = tmp_path / "out.csv"
    assert generalize.write_manifest(tmp_path, "theo", manifest) == 4
    rows = manifest.read_text().splitlines()
    assert rows[0] == "path,label,split"
    splits = {Path(r.split(",")[0]).name: r.split(",")[1:] for r in rows[1:]}
    assert splits == {
        "0_theo_0.wav": ["0", "test"],
        "7_theo_49.wav": ["7", "test"],
        "3_lucas_1.wav": ["3", "train"],
        "9_george_2.wav": ["9", "train"],
    }


def test_manifest_of_the_shared_recordings(generalize: ModuleType, tmp_path: Path) -> None:
    # ../shared or NASFORGE_DATA; skips with how to provide it, fails in CI
    recordings = shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent
    for speaker in generalize.SPEAKERS:
        generalize.write_manifest(recordings, speaker, tmp_path / "out.csv")
        rows = (tmp_path / "out.csv").read_text().splitlines()[1:]
        assert len(rows) == 3000
        held_out = [r for r in rows if r.endswith(",test")]
        assert len(held_out) == 500
        assert all(f"_{speaker}_" in Path(r.split(",")[0]).name for r in held_out)


def test_resume_skips_finished_searches(generalize: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    assert generalize.read_results(path) == []
    generalize.append_result(path, result("theo", True, 80.0, 70.0))
    generalize.append_result(path, result("george", False, 50.0, 55.0))
    generalize.append_result(path, result("george", True, 50.0, 55.0, epochs=3))  # other size
    with path.open("a") as out:
        out.write('{"speaker": "lucas", "gro')  # a line cut short by a killed run
    done = generalize.read_results(path)
    assert len(done) == 3
    pending = generalize.fsdd_pending(["theo", "george", "lucas"], SIZE, done)
    assert pending == [("theo", False), ("george", True), ("lucas", True), ("lucas", False)]
    generalize.append_result(path, result("lucas", True, 40.0, 41.0))
    assert json.loads(path.read_text().splitlines()[-1])["speaker"] == "lucas"
    assert len(generalize.read_results(path)) == 4


def test_table_mean_and_worst(generalize: ModuleType) -> None:
    results = [
        result("theo", True, 90.0, 80.0),
        result("theo", False, 70.0, 60.0),
        result("lucas", True, 50.0, 40.0),
        result("lucas", False, 30.0, 45.0),
        result("george", True, 99.0, 99.0),  # no plain search of george: not in the table
        result("jackson", True, 10.0, 10.0, epochs=3),  # another size
        result("jackson", False, 10.0, 10.0, epochs=3),
    ]
    lines = generalize.fsdd_table(results, SIZE)
    rows = {line.split("|")[1].strip(): line for line in lines[2:]}
    assert list(rows) == ["lucas", "theo", "**mean** (2)", "**worst** (2)"]
    cells = [c.strip() for c in rows["**mean** (2)"].split("|")[2:7]]
    assert cells == ["61.5", "70.0", "60.0", "50.0", "52.5"]  # issue: (41.6 + 81.4) / 2
    cells = [c.strip() for c in rows["**worst** (2)"].split("|")[2:7]]
    assert cells == ["41.6", "50.0", "40.0", "30.0", "45.0"]
    assert "| lucas | 41.6 | 50.0 | 40.0 (lucas) | 30.0 | 45.0 | 2.0 |" in lines


def test_summary(generalize: ModuleType) -> None:
    issue = [55.8, 62.6, 41.6, 50.8, 81.4, 74.6]
    assert generalize.summary(issue) == pytest.approx((61.1, 41.6), abs=0.05)


def test_augmentation_and_features_are_part_of_a_runs_size(
    generalize: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "results.jsonl"
    old = result("theo", True, 73.0, 56.4)
    del old["augment"], old["utterance_norm"]  # written before they were recorded: neither
    generalize.append_result(path, old)
    generalize.append_result(path, result("theo", False, 63.0, 60.8, augment="specaugment"))
    done = generalize.read_results(path)
    assert generalize.fsdd_pending(["theo"], SIZE, done) == [("theo", False)]
    assert generalize.fsdd_pending(["theo"], SIZE, done, kinds=(True,)) == []
    assert generalize.fsdd_pending(["theo", "lucas"], SIZE, done, kinds=(True,)) == [
        ("lucas", True)
    ]
    augmented = {**SIZE, "augment": "specaugment"}
    assert generalize.fsdd_pending(["theo"], augmented, done) == [("theo", True)]
    normalized = {**SIZE, "utterance_norm": True}
    assert generalize.fsdd_pending(["theo"], normalized, done) == [("theo", True), ("theo", False)]
    assert generalize.audio_augmentation(False) == "none"
    assert generalize.audio_augmentation(True) == "specaugment"
    assert generalize.audio_augmentation(True, True) == "vtlp+speed+specaugment"
