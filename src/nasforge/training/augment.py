"""The augmentation of training batches (`TrainConfig.augment`): crops and flips of images;
SpecAugment masks of spectrograms, and with ``speaker_augment`` speaker-changing warps of
them (`nasforge.training.speaker_augment`); drawn from the fit's own generator."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasforge.data.task import Task
from nasforge.training.speaker_augment import speaker_perturbation


def audio_augmentation(speaker: bool) -> str:
    """What ``augment`` does to an audio task's spectrograms, by name (benchmarks record it),
    with or without ``TrainConfig.speaker_augment``."""
    return "vtlp+speed+specaugment" if speaker else "specaugment"


def augment_batch(x: torch.Tensor, generator: torch.Generator, *, audio: bool) -> torch.Tensor:
    """The augmentation ``TrainConfig.augment`` applies to a training batch, drawn from
    ``generator``: crops and flips of images at least 16 pixels high, `augment_audio` of
    an audio task's ``(n, bands, frames)`` spectrograms; other inputs as they are (e.g. a
    one-shot method's architecture batches, augmented as DARTS augments both halves)."""
    if x.ndim == 4 and x.shape[2] >= 16:
        return crop_and_flip(x, generator)
    if audio and x.ndim == 3:
        return augment_audio(x, generator)
    return x


BandStats = tuple[torch.Tensor, torch.Tensor]
"""An audio task's per-band mean and standard deviation ``(bands,)`` (`Task.mean`, `.std`)."""


def augment_audio(
    x: torch.Tensor,
    generator: torch.Generator,
    stats: BandStats | None = None,
    *,
    speaker: bool = False,
) -> torch.Tensor:
    """SpecAugment's masks (`spec_augment`) on an audio task's ``(n, bands, frames)``
    spectrograms; with ``speaker``, first the spectrograms as another speaker might say them
    (`speaker_perturbation`: VTLP of the mel axis and a speed change, factors ~ U(0.9, 1.1)).
    With the task's ``stats`` (`band_stats`), the warps move the log-mels as computed, before
    the per-band normalization (so that a band moved up or down keeps the level of the band
    it lands in, silence that band's silence), and the result is normalized again."""
    if not speaker:
        return spec_augment(x, generator)
    if stats is None:
        return spec_augment(speaker_perturbation(x, generator), generator)
    mean, std = (s.to(device=x.device, dtype=x.dtype)[None, :, None] for s in stats)
    warped = speaker_perturbation(x * std + mean, generator)
    return spec_augment((warped - mean) / std, generator)


def band_stats(task: Task) -> BandStats | None:
    """The per-band mean and std an audio task of ``(bands, frames)`` inputs was normalized
    with, for `augment_audio`; None for other tasks."""
    shape = task.input_shape
    if not is_audio(task) or len(shape) != 2 or task.mean.shape != (shape[0],):
        return None
    return torch.from_numpy(task.mean.copy()), torch.from_numpy(task.std.copy())


def default_augment(task: Task) -> bool:
    """What ``TrainConfig.augment=None`` (the default) means for ``task``: SpecAugment for
    log-mel sequences (held-out speakers of FSDD: docs/benchmarks.md), nothing for other
    tasks (images keep crops and flips opt-in, as do spectrograms loaded as images)."""
    return band_stats(task) is not None


def is_audio(task: Task) -> bool:
    """Whether ``task`` holds log-mel spectrograms (which ``augment`` masks)."""
    return task.preprocessing is not None and task.preprocessing.get("kind") == "audio"


def spec_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SpecAugment's masks on ``(n, bands, frames)`` spectrograms (normalized: 0 is the mean):
    per example one band of ``[0, F]`` frequencies and one span of ``[0, T]`` frames set to
    0, with F = min(8, bands // 5) and T = min(20, frames // 5)."""
    n, bands, frames = x.shape
    masked = x.clone()
    for axis, size, limit in ((1, bands, min(8, bands // 5)), (2, frames, min(20, frames // 5))):
        width = torch.randint(0, limit + 1, (n,), generator=generator)
        start = (torch.rand(n, generator=generator) * (size - width + 1)).long()
        positions = torch.arange(size)[None, :]
        hit = (positions >= start[:, None]) & (positions < (start + width)[:, None])  # (n, size)
        mask = hit[:, :, None] if axis == 1 else hit[:, None, :]
        masked = masked.masked_fill(mask, 0.0)
    return masked


def crop_and_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crops of zero-padded images (padding 1/8 of the height) and horizontal flips."""
    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (n, c, h, w)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped).contiguous()
