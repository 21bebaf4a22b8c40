"""Per-recording normalization of log-mels (`LogMel.utterance_norm`): cepstral mean and
variance normalization over the frames that hold the recording, on real FSDD files."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from nasforge.data.audio import LogMel, load_audio_task, read_wav


@pytest.fixture(scope="module")
def fsdd() -> Path:
    return shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_each_recording_is_normalized_over_its_own_frames(fsdd: Path) -> None:
    paths = [fsdd / "3_theo_7.wav", fsdd / "8_george_2.wav"]
    features = LogMel(8000, 8000, utterance_norm=True)
    x = features.features(paths)
    for i, path in enumerate(paths):
        used = features.frames_of(len(read_wav(path)[0]))
        assert 10 < used < 101  # shorter than 1 s: the rest is padding
        np.testing.assert_allclose(x[i, :, :used].mean(axis=1), 0.0, atol=1e-4)
        np.testing.assert_allclose(x[i, :, :used].std(axis=1), 1.0, atol=1e-3)
    plain = LogMel(8000, 8000).features(paths)
    assert not np.allclose(plain[:, :, :10].mean(axis=2), 0.0, atol=1.0)


def test_a_gain_of_the_microphone_is_normalized_away(fsdd: Path, tmp_path: Path) -> None:
    samples, rate = read_wav(fsdd / "5_jackson_3.wav")
    write_wav(tmp_path / "loud.wav", samples, rate)
    write_wav(tmp_path / "quiet.wav", samples / 4, rate)  # -12 dB
    on = LogMel(rate, rate, utterance_norm=True).features(
        [tmp_path / "loud.wav", tmp_path / "quiet.wav"]
    )
    off = LogMel(rate, rate).features([tmp_path / "loud.wav", tmp_path / "quiet.wav"])
    used = LogMel(rate, rate).frames_of(len(samples))
    assert np.abs(off[0, :, :used] - off[1, :, :used]).mean() > 2.0  # log(16) apart
    assert np.abs(on[0, :, :used] - on[1, :, :used]).mean() < 0.05


def test_the_setting_stays_with_the_task_and_a_saved_model(fsdd: Path, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    for digit in "01":
        for index in range(6):
            for speaker in ("george", "theo"):
                shutil.copy(fsdd / f"{digit}_{speaker}_{index}.wav", folder)
    task = load_audio_task(folder, label_pattern=r"^(\d)_", utterance_norm=True)
    assert task.preprocessing is not None and task.preprocessing["utterance_norm"] is True
    again = LogMel.from_dict(task.preprocessing)
    assert again == LogMel(8000, 8000, 40, utterance_norm=True)
    assert "utterance_norm" not in LogMel(8000, 8000).to_dict()  # older models read the same
    assert LogMel.from_dict(LogMel(8000, 8000).to_dict()).utterance_norm is False
