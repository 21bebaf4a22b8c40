"""`nasforge predict` and `LoadedModel.predictions`: one named row per input (files, WAV
folders, array rows, text lines with blank lines kept), --proba and --top K in text and
JSON, and a text model refusing binary files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from model_folders import audio_model, digits_model, text_model
from nasforge.cli import app
from nasforge.data import load_digits_task
from nasforge.export import ExportError, load_model

runner = CliRunner()
QUESTIONS = "Who wrote Hamlet ?\n\nWhat is a zebra ?\n   \nHow far is the moon ?\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    audio, wavs = audio_model(folder)
    return {
        "text": text_model(folder),
        "audio": audio,
        "wavs": wavs,
        "digits": digits_model(folder),
    }


def _json(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["predict", *args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    return payload


def test_every_line_of_a_text_file_is_a_row_blank_lines_as_empty_texts(
    models: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "q.txt").write_text(QUESTIONS)
    loaded = load_model(models["text"])
    texts = QUESTIONS.splitlines()
    expected = [loaded.class_names[int(i)] for i in loaded.predict_texts(texts)]  # type: ignore[index]
    payload = _json(str(models["text"]), "--data", str(tmp_path / "q.txt"))
    rows = payload["rows"]
    assert isinstance(rows, list)
    assert [r["input"] for r in rows] == [f"line {n}" for n in range(1, 6)]
    assert [r["label"] for r in rows] == expected == payload["predictions"]
    plain = runner.invoke(app, ["predict", str(models["text"]), "--data", str(tmp_path / "q.txt")])
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.splitlines() == [f"line {n}\t{lab}" for n, lab in enumerate(expected, 1)]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("npz", "x.npz is not a text file (a NUL byte"),
        ("safetensors", "model.safetensors is not a text file (a NUL byte"),
        ("latin-1", "q.txt is not UTF-8 text (byte 1 is 0xf9)"),
    ],
)
def test_a_text_model_refuses_a_binary_file_with_one_line(
    models: dict[str, Path], tmp_path: Path, kind: str, message: str
) -> None:
    if kind == "npz":
        data = tmp_path / "x.npz"
        np.savez(data, x=np.zeros((3, 8, 8), np.float32))
    elif kind == "safetensors":
        data = models["text"] / "model.safetensors"
    else:
        data = tmp_path / "q.txt"
        data.write_bytes("Où est la gare ?\n".encode("latin-1"))
    result = runner.invoke(app, ["predict", str(models["text"]), "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_proba_and_top_k_in_json_text_and_the_python_api(
    models: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "q.txt").write_text(QUESTIONS)
    loaded = load_model(models["text"])
    probabilities = loaded.predict_proba(loaded.encode_texts(QUESTIONS.splitlines()))
    names = loaded.class_names
    assert names is not None
    payload = _json(str(models["text"]), "--data", str(tmp_path / "q.txt"), "--proba", "--top", "3")
    rows = payload["rows"]
    assert isinstance(rows, list) and len(rows) == 5
    for row, p in zip(rows, probabilities, strict=True):
        assert list(row["probabilities"]) == list(names)
        np.testing.assert_allclose(list(row["probabilities"].values()), p, rtol=1e-6)
        order = np.argsort(-p, kind="stable")[:3]
        assert [t["label"] for t in row["top"]] == [names[i] for i in order]
        np.testing.assert_allclose([t["probability"] for t in row["top"]], p[order], rtol=1e-6)
        assert row["label"] == names[order[0]]
    # the same from Python
    predictions = loaded.predictions(tmp_path / "q.txt")
    assert predictions.names == tuple(f"line {n}" for n in range(1, 6))
    assert predictions.top(3)[0] == [(t["label"], t["probability"]) for t in rows[0]["top"]]
    assert predictions.rows(proba=True, top=3) == rows
    assert loaded.predictions(["Who wrote Hamlet ?"]).names == ("[0]",)
    # text: name, label, top, every class, tab-separated
    text = runner.invoke(
        app, ["predict", str(models["text"]), "--data", str(tmp_path / "q.txt"), "--top", "2"]
    )
    assert text.exit_code == 0, text.output
    first = text.stdout.splitlines()[0].split("\t")
    top = rows[0]["top"]
    assert first == [
        "line 1",
        rows[0]["label"],
        f"{top[0]['label']}={top[0]['probability']:.4f} {top[1]['label']}="
        f"{top[1]['probability']:.4f}",
    ]


def test_a_wav_folder_gives_one_row_per_file_named_by_file(models: dict[str, Path]) -> None:
    wavs = sorted(p.name for p in models["wavs"].glob("*.wav"))
    payload = _json(str(models["audio"]), "--data", str(models["wavs"]), "--top", "2")
    rows = payload["rows"]
    assert isinstance(rows, list)
    assert [r["input"] for r in rows] == wavs and len(wavs) == 24
    one = models["wavs"] / "2_theo_3.wav"
    single = _json(str(models["audio"]), "--data", str(one), "--proba")["rows"]
    assert isinstance(single, list) and single[0]["input"] == str(one)
    assert single[0]["label"] == rows[wavs.index(one.name)]["label"]
    assert sum(single[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_array_rows_are_named_by_file_and_index(models: dict[str, Path], tmp_path: Path) -> None:
    x = load_digits_task(seed=0).x_test[:4, 0]  # (4, 8, 8), the one channel dropped
    np.save(tmp_path / "digits.npy", x)
    payload = _json(str(models["digits"]), "--data", str(tmp_path / "digits.npy"), "--proba")
    rows = payload["rows"]
    assert isinstance(rows, list)
    assert [r["input"] for r in rows] == [f"digits.npy[{i}]" for i in range(4)]
    assert list(rows[0]["probabilities"]) == [str(c) for c in range(10)]  # no class names
    assert [r["label"] for r in rows] == load_model(models["digits"]).predict(x).tolist()


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("text", ["--top", "0"], "top 0: choose from 1 to 6"),
        ("text", ["--top", "7"], "top 7: choose from 1 to 6"),
        ("text", ["--label-column", "label"], "label_column applies to .csv inputs"),
        ("audio", ["--label-column", "label"], "this model takes .wav files"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    models: dict[str, Path], tmp_path: Path, model: str, extra: list[str], message: str
) -> None:
    (tmp_path / "q.txt").write_text(QUESTIONS)
    data = tmp_path / "q.txt" if model == "text" else models["wavs"]
    result = runner.invoke(app, ["predict", str(models[model]), "--data", str(data), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_predictions_top_checks_k(models: dict[str, Path]) -> None:
    predictions = load_model(models["digits"]).predictions(np.zeros((2, 8, 8), np.float32))
    assert predictions.names == ("[0]", "[1]") and len(predictions.top(10)[0]) == 10
    with pytest.raises(ExportError, match="top 11: choose from 1 to 10"):
        predictions.top(11)


def test_export_help_says_what_the_graph_takes() -> None:
    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for words in ("float32 (N, *input_shape)", "Text: token ids", "Audio: log-mel", "onnx_inputs"):
        assert words in text
