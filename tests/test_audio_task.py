"""Audio tasks: the three layouts, WAV reading, log-mel against numpy, search and predict
from the CLI, bad input (a slice of the real FSDD recordings)."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import shared_file
from nasforge.cli import app
from nasforge.data.audio import LogMel, find_recordings, load_audio_task, mel_filterbank, read_wav

runner = CliRunner()
FSDD_PATTERN = r"^(\d)_"
FSDD_TEST = r"_[0-4]\.wav$"


@pytest.fixture(scope="module")
def fsdd() -> Path:
    return shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent


def _slice(fsdd: Path, folder: Path, digits: str = "012", indices: range = range(8)) -> Path:
    """A flat folder of FSDD files: george and theo saying ``digits``, ``indices``."""
    folder.mkdir(parents=True, exist_ok=True)
    for digit in digits:
        for speaker in ("george", "theo"):
            for index in indices:
                name = f"{digit}_{speaker}_{index}.wav"
                shutil.copy(fsdd / name, folder / name)
    return folder


def test_the_three_layouts_read_the_same_recordings(fsdd: Path, tmp_path: Path) -> None:
    flat = _slice(fsdd, tmp_path / "flat")
    by_name = find_recordings(flat, label_pattern=FSDD_PATTERN, test_pattern=FSDD_TEST)
    nested = tmp_path / "nested"
    for file in flat.iterdir():
        (nested / file.name[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, nested / file.name[0] / file.name)
    by_folder = find_recordings(nested, test_pattern=FSDD_TEST)
    manifest = tmp_path / "manifest.csv"
    rows = [f"flat/{r.path.name},{r.label},{'test' if r.test else 'train'}" for r in by_name[::-1]]
    manifest.write_text("path,label,split\n" + "\n".join(rows) + "\n")
    by_manifest = find_recordings(manifest)

    def key(recordings: list) -> list[tuple[str, str, bool | None]]:  # type: ignore[type-arg]
        return sorted((r.path.name, r.label, r.test) for r in recordings)

    assert key(by_name) == key(by_folder) == key(by_manifest)
    assert len(by_name) == 48 and sum(bool(r.test) for r in by_name) == 30
    tasks = [
        load_audio_task(flat, label_pattern=FSDD_PATTERN, test_pattern=FSDD_TEST),
        load_audio_task(nested, test_pattern=FSDD_TEST),
        load_audio_task(manifest),
    ]
    for task in tasks[1:]:
        np.testing.assert_array_equal(task.x_test, tasks[0].x_test)
        np.testing.assert_array_equal(task.y_train, tasks[0].y_train)
    assert tasks[0].input_shape == (40, 101)
    assert tasks[0].class_names == ("0", "1", "2")


def test_log_mel_matches_numpy(fsdd: Path) -> None:
    samples, rate = read_wav(fsdd / "3_theo_7.wav")
    assert rate == 8000 and samples.dtype == np.float32 and np.abs(samples).max() <= 1.0
    features = LogMel(rate, 6000, n_mels=32)
    ours = features(features.samples_of(fsdd / "3_theo_7.wav")[None])[0]
    signal = np.pad(samples, (0, 6000 - len(samples)))[:6000].astype(np.float64)
    n_fft, win, hop = features.n_fft, features.window, features.hop
    assert (n_fft, win, hop) == (256, 200, 80)
    window = np.zeros(n_fft)
    start = (n_fft - win) // 2
    window[start : start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    padded = np.pad(signal, n_fft // 2)
    frames = np.stack(
        [padded[i : i + n_fft] * window for i in range(0, len(padded) - n_fft + 1, hop)]
    )
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    expected = np.log(power @ mel_filterbank(32, n_fft, rate).T.astype(np.float64) + 1e-6).T
    assert ours.shape == expected.shape == (32, 76)
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3)


def test_24_bit_stereo_and_other_rates_read_as_the_same_signal(fsdd: Path, tmp_path: Path) -> None:
    samples, rate = read_wav(fsdd / "4_theo_9.wav")
    pcm24 = np.round(samples.astype(np.float64) * (1 << 23)).astype(np.int32)
    stereo = np.repeat(pcm24, 2)
    raw = np.stack([stereo & 0xFF, (stereo >> 8) & 0xFF, (stereo >> 16) & 0xFF], axis=1)
    with wave.open(str(tmp_path / "wide.wav"), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(3)
        handle.setframerate(rate)
        handle.writeframes(raw.astype(np.uint8).tobytes())
    again, again_rate = read_wav(tmp_path / "wide.wav")
    assert again_rate == rate
    np.testing.assert_allclose(again, samples, atol=1e-6)
    features = LogMel(16000, 16000)
    assert features.samples_of(tmp_path / "wide.wav").shape == (16000,)


def test_search_and_predict_wav_files(fsdd: Path, tmp_path: Path) -> None:
    flat = _slice(fsdd, tmp_path / "flat", digits="0123", indices=range(10))
    args = ["search", "--task", "audio", "--data", str(flat), "--label-pattern", FSDD_PATTERN,
            "--test-pattern", FSDD_TEST, "--budget", "2", "--epochs", "2", "--final-epochs",
            "2", "--out", "best", "--threads", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "best" / "arch.json").read_text())
    assert record["preprocessing"] == {
        "kind": "audio",
        "sample_rate": 8000,
        "samples": 8000,
        "n_mels": 40,
        "as_image": False,
    }
    one = runner.invoke(app, ["predict", "best", "--data", str(flat / "2_theo_3.wav"), "--json"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["count"] == 1
    many = runner.invoke(app, ["predict", "best", "--data", str(flat), "--json"])
    assert many.exit_code == 0, many.output
    labels = json.loads(many.stdout)["predictions"]
    assert len(labels) == 80 and set(labels) <= {"0", "1", "2", "3"}


@pytest.mark.parametrize(
    ("layout", "extra", "message"),
    [
        ("not-wav", [], "is not a PCM WAV file"),
        ("empty", [], "no .wav files in class subfolders"),
        ("flat", [], "need --label-pattern"),
        ("flat", ["--label-pattern", r"^speaker(\d)"], "matches none of the"),
        ("flat", ["--label-pattern", "(["], "is not a regular expression"),
        ("manifest", [], "is not an audio manifest"),
    ],
)
def test_bad_audio_input_is_one_line_and_writes_nothing(
    fsdd: Path, tmp_path: Path, layout: str, extra: list[str], message: str
) -> None:
    data = tmp_path / "data"
    if layout == "not-wav":
        (data / "yes").mkdir(parents=True)
        (data / "no").mkdir()
        (data / "yes" / "a.wav").write_text("this is text, not sound")
        shutil.copy(fsdd / "0_theo_1.wav", data / "no" / "b.wav")
    elif layout == "empty":
        (data / "nothing").mkdir(parents=True)
    elif layout == "flat":
        _slice(fsdd, data, digits="01", indices=range(2))
    else:
        data = tmp_path / "list.csv"
        data.write_text("file,class\na.wav,1\n")
    result = runner.invoke(app, ["search", "--task", "audio", "--data", str(data), *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "nasforge.sqlite").exists()


def test_spec_augment_masks_one_band_and_one_span() -> None:
    import torch

    from nasforge.training.augment import spec_augment

    x = torch.ones(64, 40, 101)
    masked = spec_augment(x, torch.Generator().manual_seed(0))
    assert masked.shape == x.shape and torch.equal(x, torch.ones(64, 40, 101))  # a copy
    zero_bands = (masked == 0).all(dim=2).sum(dim=1)  # whole bands masked, per example
    zero_frames = (masked == 0).all(dim=1).sum(dim=1)
    assert int(zero_bands.max()) <= 8 and int(zero_frames.max()) <= 20
    assert int(zero_bands.max()) > 0 and int(zero_frames.max()) > 0
    for example in range(64):
        rows = torch.nonzero((masked[example] == 0).all(dim=1)).flatten()
        if len(rows):  # one contiguous band
            assert int(rows[-1] - rows[0]) + 1 == len(rows)
    untouched = ((masked == 0).sum(dim=(1, 2)) == 0).float().mean()
    assert float(untouched) < 0.2


def test_spectrograms_as_images_for_the_mobilenet_space(fsdd: Path, tmp_path: Path) -> None:
    flat = _slice(fsdd, tmp_path / "flat", digits="01", indices=range(6))
    args = ["search", "--task", "audio", "--data", str(flat), "--label-pattern", FSDD_PATTERN,
            "--spectrogram-image", "--space", "mobilenet", "-s", "width_mult=0.25",
            "-s", "depths=[[1],[1],[1],[1],[1],[1],[1]]", "--budget", "1", "--epochs", "1",
            "--final-epochs", "1", "--out", "best", "--threads", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "best" / "arch.json").read_text())
    assert record["input_shape"] == [1, 40, 101]
    assert record["preprocessing"]["as_image"] is True
    predicted = runner.invoke(app, ["predict", "best", "--data", str(flat), "--json"])
    assert predicted.exit_code == 0, predicted.output
    assert len(json.loads(predicted.stdout)["predictions"]) == 24
    wrong = runner.invoke(app, ["search", "--task", "digits", "--spectrogram-image"])
    assert wrong.exit_code == 2 and "--spectrogram-image apply to --task audio" in wrong.output
