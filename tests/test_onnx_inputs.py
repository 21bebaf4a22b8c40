"""The ONNX graph on raw inputs: `nasforge export` takes predict's sample inputs (a text
file, WAV files), writes ``<graph>.preprocess.json``, and `onnx_inputs` turns texts, WAV
files and digits' (N, 8, 8) into the graph's input so that onnxruntime matches predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from typer.testing import CliRunner

from model_folders import audio_model, digits_model, text_model
from nasforge.cli import app
from nasforge.data import load_digits_task
from nasforge.export import ExportError, load_model, onnx_inputs

runner = CliRunner()
pytestmark = pytest.mark.slow
QUESTIONS = "Who wrote Hamlet ?\n\nWhat is a zebra ?\nHow far is the moon ?\n"


def _export(model: Path, data: Path | None, out: Path) -> dict[str, object]:
    args = ["export", str(model), "--out", str(out), "--json"]
    result = runner.invoke(app, [*args, "--data", str(data)] if data else args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    return payload


def _run(graph: Path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[1])


def test_a_text_models_graph_on_raw_texts_matches_predict(tmp_path: Path) -> None:
    model = text_model(tmp_path)
    questions = tmp_path / "q.txt"
    questions.write_text(QUESTIONS)
    payload = _export(model, questions, tmp_path / "text.onnx")
    assert payload["checked_samples"] == 4  # the text file's lines, the blank one too
    record = json.loads((tmp_path / "text.preprocess.json").read_text())
    assert record["input"]["dtype"] == "float32" and record["input"]["shape"][1:] == [29]
    assert record["preprocessing"]["kind"] == "text"
    loaded = load_model(model)
    expected = loaded.predictions(questions)
    probabilities = _run(tmp_path / "text.onnx", onnx_inputs(tmp_path / "text.onnx", questions))
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5)
    texts = QUESTIONS.splitlines()
    from_list = onnx_inputs(tmp_path / "text.preprocess.json", texts)
    np.testing.assert_allclose(_run(tmp_path / "text.onnx", from_list), probabilities, atol=1e-6)


def test_an_audio_models_graph_on_wav_files_matches_predict(tmp_path: Path) -> None:
    model, wavs = audio_model(tmp_path)
    _export(model, wavs, model / "model.onnx")
    expected = load_model(model).predictions(wavs)
    x = onnx_inputs(model, wavs)  # the model folder: its model.preprocess.json
    assert x.shape == (24, 40, 101) and x.dtype == np.float32
    np.testing.assert_allclose(_run(model / "model.onnx", x), expected.probabilities, atol=1e-5)
    files = sorted(wavs.glob("*.wav"))[:3]
    np.testing.assert_allclose(onnx_inputs(model, files), x[:3], atol=1e-6)


def test_a_digits_graph_takes_n_8_8_through_the_preprocessor(tmp_path: Path) -> None:
    model = digits_model(tmp_path)
    raw = load_digits_task(seed=0).x_test[:20, 0]  # (20, 8, 8), as predict takes them
    np.save(tmp_path / "raw.npy", raw)
    _export(model, tmp_path / "raw.npy", tmp_path / "d.onnx")
    x = onnx_inputs(tmp_path / "d.onnx", raw)
    assert x.shape == (20, 1, 8, 8)
    expected = load_model(model).predict_proba(raw)
    np.testing.assert_allclose(_run(tmp_path / "d.onnx", x), expected, atol=1e-5)
    np.testing.assert_array_equal(onnx_inputs(tmp_path / "d.onnx", tmp_path / "raw.npy"), x)


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        ("text", "npz", "x.npz is not a text file"),
        ("audio", "text", "q.txt is not a PCM WAV file"),
        ("digits", "text", "expected a .npz, .npy or .csv file"),
    ],
)
def test_export_refuses_sample_inputs_the_model_does_not_take(
    tmp_path: Path, model: str, data: str, message: str
) -> None:
    folder = {
        "text": text_model,
        "audio": lambda d: audio_model(d)[0],
        "digits": digits_model,
    }[model](tmp_path)
    if data == "npz":
        sample = tmp_path / "x.npz"
        np.savez(sample, x=np.zeros((2, 29), np.float32))
    else:
        sample = tmp_path / "q.txt"
        sample.write_text(QUESTIONS)
    result = runner.invoke(app, ["export", str(folder), "--data", str(sample)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (folder / "model.onnx").exists()
    assert not (folder / "model.preprocess.json").exists()


def test_onnx_inputs_without_a_preprocessor_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"no pre-processor file .*nasforge export"):
        onnx_inputs(tmp_path / "model.onnx", ["a text"])
    (tmp_path / "model.preprocess.json").write_text('{"format": "other"}')
    with pytest.raises(ExportError, match="is not a nasforge pre-processor file"):
        onnx_inputs(tmp_path, ["a text"])
