"""Speaker-changing augmentation of spectrograms (`nasforge.training.speaker_augment`): VTLP
of the mel axis and speed perturbation, checked on log-mels of synthetic tones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.data import make_task
from nasforge.data.audio import LogMel
from nasforge.data.task import Task
from nasforge.training import TrainConfig, Trainer
from nasforge.training.augment import augment_audio, augment_batch, default_augment, spec_augment
from nasforge.training.hooks import TrainerHooks
from nasforge.training.speaker_augment import (
    speaker_perturbation,
    stretch_frames,
    warp_bands,
)

RATE = 8000
FEATURES = LogMel(RATE, RATE)  # 1 s at 8 kHz: (40, 101) log-mels, as FSDD's


def tone(hz: float, start: float = 0.0, stop: float = 1.0) -> np.ndarray:
    """A sine of ``hz`` between ``start`` and ``stop`` seconds, silence elsewhere."""
    t = np.arange(RATE) / RATE
    return np.where((t >= start) & (t < stop), np.sin(2 * math.pi * hz * t), 0.0)


def log_mels(*signals: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(FEATURES(np.stack(signals).astype(np.float32)))


def peak_band(x: torch.Tensor) -> torch.Tensor:
    """The band of most energy of each example, over its frames (the tone's band)."""
    return x.exp().mean(dim=2).argmax(dim=1)


def onset(x: torch.Tensor, band: int) -> torch.Tensor:
    """The first frame where ``band`` is louder than half-way between silence and the tone."""
    row = x[:, band, :]
    level = (row.min(dim=1).values + row.max(dim=1).values)[:, None] / 2
    return (row > level).float().argmax(dim=1)


def test_factors_of_one_are_the_identity() -> None:
    x = torch.randn(5, 40, 101, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(warp_bands(x, torch.ones(5)), x)
    torch.testing.assert_close(stretch_frames(x, torch.ones(5)), x)
    same = speaker_perturbation(x, torch.Generator(), warp=(1.0, 1.0), stretch=(1.0, 1.0))
    torch.testing.assert_close(same, x)


def test_vtlp_moves_a_tone_up_or_down_the_mel_axis() -> None:
    x = log_mels(tone(1000.0), tone(1000.0), tone(1000.0))
    band = int(peak_band(x)[0])
    assert 10 < band < 25  # 1 kHz on the 40-band HTK mel axis up to 4 kHz
    warped = warp_bands(x, torch.tensor([0.9, 1.0, 1.1]))
    assert peak_band(warped).tolist() == [round(band * 0.9), band, round(band * 1.1)]
    assert torch.equal(warped[:, [0, -1]], x[:, [0, -1]])  # the ends of the axis stay


def test_vtlp_keeps_every_band_filled_near_the_top() -> None:
    x = log_mels(tone(3500.0), tone(3500.0))  # above the warp's break
    band = int(peak_band(x)[0])
    warped = warp_bands(x, torch.tensor([0.9, 1.1]))
    low, high = peak_band(warped).tolist()
    assert low <= band <= high and low < high
    assert torch.isfinite(warped).all() and warped.amax() <= x.amax()  # interpolated


def test_speed_perturbation_moves_an_onset_in_time() -> None:
    x = log_mels(*(tone(1000.0, 0.3, 0.6) for _ in range(3)))
    band = int(peak_band(x)[0])
    start = int(onset(x, band)[0])
    assert 28 <= start <= 32  # 0.3 s at a 10 ms hop
    stretched = stretch_frames(x, torch.tensor([0.9, 1.0, 1.1]))  # slower, same, faster
    got = onset(stretched, band).tolist()
    assert got[1] == start
    assert got[0] == pytest.approx(start / 0.9, abs=1) and got[2] == pytest.approx(
        start / 1.1, abs=1
    )
    # faster speech ends sooner: the end is padded with the last frame (silence)
    faster = stretch_frames(x, torch.tensor([1.1, 1.1, 1.1]))
    torch.testing.assert_close(faster[:, :, -5:], x[:, :, -1:].expand(-1, -1, 5))


def test_seeded_per_example_and_shape_kept() -> None:
    x = log_mels(*(tone(600.0 + 100 * i, 0.1, 0.5) for i in range(8)))
    before = x.clone()
    first = speaker_perturbation(x, torch.Generator().manual_seed(3))
    again = speaker_perturbation(x, torch.Generator().manual_seed(3))
    other = speaker_perturbation(x, torch.Generator().manual_seed(4))
    assert torch.equal(x, before)  # a new tensor
    assert first.shape == x.shape and first.dtype == x.dtype and first.device == x.device
    assert torch.equal(first, again) and not torch.equal(first, other)
    # each example its own factors: the same tone is warped differently in each
    same = log_mels(*(tone(1000.0, 0.1, 0.5) for _ in range(8)))
    warped = speaker_perturbation(same, torch.Generator().manual_seed(3))
    assert len({tuple(w.flatten().tolist()) for w in warped}) == 8


def test_audio_batches_are_warped_then_masked() -> None:
    x = log_mels(*(tone(1000.0) for _ in range(64)))
    out = augment_audio(x, torch.Generator().manual_seed(0), speaker=True)
    assert out.shape == x.shape
    assert len(set(peak_band(out).tolist())) > 1  # VTLP moved the tone for some
    assert ((out == 0).all(dim=2).any(dim=1)).any()  # SpecAugment's masked bands
    masked = augment_audio(x, torch.Generator().manual_seed(0))  # SpecAugment alone
    assert torch.equal(masked, spec_augment(x, torch.Generator().manual_seed(0)))
    batch = augment_batch(x, torch.Generator().manual_seed(0), audio=True)
    assert torch.equal(batch, masked)  # one-shot batches: SpecAugment
    assert torch.equal(augment_batch(x, torch.Generator(), audio=False), x)


class Batches(TrainerHooks):
    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        self.seen.append(x.detach().clone())


def _tone_task(audio: bool) -> Task:
    """One bright band (20) per example: SpecAugment can only blank it, VTLP moves it."""
    x = np.zeros((96, 40, 101), np.float32)
    x[:, 20, :] = 5.0
    y = np.arange(96) % 2
    task = make_task("tones", x, y, x[:8], y[:8], valid_fraction=0.25, normalize=False)
    if audio:
        preprocessing = {"kind": "audio", "sample_rate": RATE, "samples": RATE, "n_mels": 40}
        task = task.with_preprocessing(preprocessing)
    return task


@pytest.mark.parametrize(("augment", "speaker"), [(False, False), (True, False), (True, True)])
def test_the_trainer_warps_audio_with_speaker_augment(augment: bool, speaker: bool) -> None:
    task = _tone_task(audio=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40 * 101, 2))
    probe = Batches()
    config = TrainConfig(
        epochs=1, batch_size=32, augment=augment, speaker_augment=speaker, threads=1, device="cpu"
    )
    Trainer(config, hooks=[probe]).fit(model, task)
    seen = torch.cat(probe.seen)
    bands = set(peak_band(seen).tolist())
    if speaker:
        assert len(bands) > 2, bands  # moved up and down, not only blanked (band 0)
    elif augment:
        assert bands == {0, 20}  # some blanked by SpecAugment
    else:
        assert bands == {20}


@pytest.mark.parametrize("augment", [None, True, False])
def test_audio_is_augmented_by_default_and_other_inputs_are_not(augment: bool | None) -> None:
    """``TrainConfig.augment=None`` (the default, and the CLI's without --augment or
    --no-augment): SpecAugment on log-mel sequences, nothing on other inputs."""
    seen = {}
    for audio in (True, False):
        task = _tone_task(audio)
        assert default_augment(task) is audio
        probe = Batches()
        config = TrainConfig(epochs=1, batch_size=32, augment=augment, threads=1, device="cpu")
        Trainer(config, hooks=[probe]).fit(nn.Sequential(nn.Flatten(), nn.Linear(4040, 2)), task)
        seen[audio] = set(peak_band(torch.cat(probe.seen)).tolist())
    assert seen[True] == ({20} if augment is False else {0, 20})  # some bands blanked
    assert seen[False] == {20}  # a plain (n, 40, 101) array is not audio: never masked
    assert TrainConfig().augment is None


def test_with_the_tasks_band_stats_silence_stays_silence() -> None:
    # warped after the per-band normalization, a band would carry its neighbour's normalized
    # silence; with the stats every band's silence is the log-mel of silence again
    raw = log_mels(*(tone(300.0 + 50 * i, 0.0, 0.5) for i in range(16)))
    mean, std = raw.mean(dim=(0, 2)), raw.std(dim=(0, 2))
    x = (raw - mean[None, :, None]) / std[None, :, None]
    silence = math.log(1e-6)
    for stats, kept in (((mean, std), True), (None, False)):
        out = augment_audio(x, torch.Generator().manual_seed(1), stats, speaker=True)
        back = out * std[None, :, None] + mean[None, :, None]
        tail = back[:, :, 70:]  # frames after every tone, stretched or not
        masked = (out[:, :, 70:] == 0).all(dim=2, keepdim=True) | (out[:, :, 70:] == 0)
        near = (tail - silence).abs() < 1e-3
        assert bool((near | masked).all()) is kept
