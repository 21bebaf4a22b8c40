"""Audio tasks: labelled WAV files as log-mel spectrograms.

Three layouts, told apart by ``data``:

- a folder with one subfolder per class (``data/yes/*.wav``, ``data/no/*.wav``);
- a CSV manifest with a header ``path,label[,split]`` (paths relative to the manifest;
  ``split`` is ``train`` or ``test``), and any other columns (a ``group_column`` among them);
- a folder of WAV files whose names hold the label, given by ``label_pattern`` (a regular
  expression whose first group is the label: FSDD's ``{digit}_{speaker}_{index}.wav`` is
  ``^(\\d)_``).

The test set: the manifest's ``split`` column, else the files whose name matches
``test_pattern`` (FSDD's usual split, indices 0-4: ``_[0-4]\\.wav$``), else a stratified
``test_fraction``. A group per recording (a speaker), from the manifest's ``group_column``
or from the file name by ``group_pattern`` (FSDD's speaker: ``^\\d_([a-z]+)_``), makes the
validation split (and a ``test_fraction`` split) take whole groups (`nasforge.data.groups`).
Every recording is read with the standard library's ``wave`` (PCM of 8,
16, 24 or 32 bits; several channels are averaged), resampled to one rate (the most common
rate of the files unless ``sample_rate`` is given; polyphase, ``scipy.signal``), cut or
padded with silence at the end to ``seconds``, and turned into a log-mel spectrogram in
torch (`LogMel`: a periodic Hann window of 25 ms, hop 10 ms, power spectrum, ``n_mels``
triangular filters on the HTK mel scale, ``log(mel + 1e-6)``), so the task's inputs are
sequences ``(n_mels, frames)`` normalized per mel band with the training split's
statistics. ``utterance_norm`` first normalizes each recording's log-mels per band by their
own mean and standard deviation over the frames that hold the recording (not the silence
padded on): cepstral mean and variance normalization, the standard step against the
differences of microphones and voices; it stays with a saved model. No torchaudio: its builds
do not match the torch used here.
"""

from __future__ import annotations

import csv
import math
import re
import wave
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nasforge.data.groups import groups_from_names, held_out_split
from nasforge.data.task import DataError, Task, make_task

FloatArray = npt.NDArray[np.float32]
WAV_SUFFIX = ".wav"


@dataclass(frozen=True)
class Recording:
    path: Path
    label: str
    test: bool | None  # None: not decided by the layout
    group: str | None = None  # a speaker...: from a manifest column or the file name


def read_wav(path: str | Path) -> tuple[FloatArray, int]:
    """Samples in [-1, 1] (channels averaged) and the sample rate of a PCM WAV file."""
    file = Path(path)
    try:
        with wave.open(str(file), "rb") as handle:
            channels, width = handle.getnchannels(), handle.getsampwidth()
            rate, frames = handle.getframerate(), handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as exc:
        raise DataError(f"{file} is not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"cannot read {file}: {exc.strerror or exc}") from None
    if width == 1:
        samples = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        samples = value.astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(frames, "<i4").astype(np.float64) / 2**31).astype(np.float32)
    else:
        raise DataError(f"{file} has {8 * width}-bit samples; nasforge reads 8, 16, 24 or 32")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return np.ascontiguousarray(samples, dtype=np.float32), rate


def resample(samples: FloatArray, rate: int, target: int) -> FloatArray:
    """``samples`` at ``target`` Hz (polyphase filtering; unchanged at the same rate)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    common = math.gcd(rate, target)
    return np.asarray(resample_poly(samples, target // common, rate // common), np.float32)


def fix_length(samples: FloatArray, length: int) -> FloatArray:
    """Cut at the end or pad with zeros (silence) at the end to ``length`` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int) -> FloatArray:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters equally spaced on the HTK mel scale
    from 0 Hz to the Nyquist frequency."""

    def to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = to_hz(np.linspace(0.0, float(to_mel(np.array(sample_rate / 2.0))), n_mels + 2))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - low) / (centre - low)
    falling = (high - bins[None, :]) / (high - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


@dataclass(frozen=True)
class LogMel:
    """Log-mel spectrograms of fixed-length recordings at one rate (see the module
    docstring); `to_dict`/`from_dict` keep it with a saved model."""

    sample_rate: int
    samples: int
    n_mels: int = 40
    utterance_norm: bool = False

    @property
    def n_fft(self) -> int:
        return 1 << math.ceil(math.log2(0.025 * self.sample_rate))

    @property
    def window(self) -> int:
        return round(0.025 * self.sample_rate)

    @property
    def hop(self) -> int:
        return round(0.010 * self.sample_rate)

    def __call__(self, batch: FloatArray) -> FloatArray:
        """``(N, samples)`` recordings -> ``(N, n_mels, frames)`` log-mel features."""
        import torch

        signal = torch.from_numpy(np.asarray(batch, np.float32))
        window = torch.hann_window(self.window, periodic=True)
        spectrum = torch.stft(
            signal,
            self.n_fft,
            hop_length=self.hop,
            win_length=self.window,
            window=window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spectrum.abs() ** 2  # (N, n_fft // 2 + 1, frames)
        filters = torch.from_numpy(mel_filterbank(self.n_mels, self.n_fft, self.sample_rate))
        mel = torch.einsum("mf,nft->nmt", filters, power)
        return torch.log(mel + 1e-6).numpy().astype(np.float32)

    def features(self, paths: Sequence[Path]) -> FloatArray:
        """Read, resample, fix the length of, and transform WAV files, in batches (with
        ``utterance_norm``, each normalized over its own frames)."""
        out = []
        for start in range(0, len(paths), 256):
            chunk = [self._read(p) for p in paths[start : start + 256]]
            x = self(np.stack([samples for samples, _ in chunk]))
            if self.utterance_norm:
                x = normalize_utterances(x, [self.frames_of(length) for _, length in chunk])
            out.append(x)
        return np.concatenate(out) if out else np.zeros((0, self.n_mels, 0), np.float32)

    def samples_of(self, path: Path) -> FloatArray:
        return self._read(path)[0]

    def frames_of(self, length: int) -> int:
        """How many frames hold some of the first ``length`` samples (not only padding)."""
        frames = 1 + self.samples // self.hop
        return max(1, min(frames, 1 + (min(length, self.samples) + self.window // 2) // self.hop))

    def _read(self, path: Path) -> tuple[FloatArray, int]:
        """The recording at the rate, cut or padded to ``samples``; and its own length."""
        samples, rate = read_wav(path)
        samples = resample(samples, rate, self.sample_rate)
        return fix_length(samples, self.samples), len(samples)

    def to_dict(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "kind": "audio",
            "sample_rate": self.sample_rate,
            "samples": self.samples,
            "n_mels": self.n_mels,
        }
        if self.utterance_norm:
            settings["utterance_norm"] = True
        return settings

    def model_inputs(self, paths: Sequence[Path], as_image: bool) -> FloatArray:
        """`features` in the layout a task made with ``as_image`` trains on."""
        x = self.features(paths)
        return x[:, None] if as_image else x

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogMel:
        try:
            return cls(
                int(data["sample_rate"]),
                int(data["samples"]),
                int(data["n_mels"]),
                bool(data.get("utterance_norm", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not saved audio features: {type(exc).__name__} {exc}") from None


def normalize_utterances(x: FloatArray, frames: Sequence[int]) -> FloatArray:
    """``(N, n_mels, T)`` log-mels, each minus its mean and over its standard deviation per
    band, both over its first ``frames[i]`` frames (the recording, not the padding)."""
    out = np.empty_like(x)
    for i, used in enumerate(frames):
        own = x[i, :, :used]
        mean = own.mean(axis=1, keepdims=True)
        std = own.std(axis=1, keepdims=True)
        out[i] = (x[i] - mean) / np.maximum(std, 1e-3)
    return out


def wav_inputs(path: str | Path) -> list[Path]:
    """A .wav file, or the .wav files of a folder (sorted), to predict."""
    where = Path(path).expanduser()
    if where.is_dir():
        files = _wav_files(where)
        if not files:
            raise DataError(f"no .wav files in {where}")
        return files
    if not where.is_file():
        raise DataError(f"no such .wav file or folder: {where}")
    return [where]


def find_recordings(
    data: str | Path,
    *,
    label_pattern: str | None = None,
    test_pattern: str | None = None,
    group_column: str | None = None,
    group_pattern: str | None = None,
) -> list[Recording]:
    """The labelled recordings of a class-per-folder layout, a manifest, or a folder of
    files named by ``label_pattern`` (see the module docstring), sorted by path; with their
    groups from a manifest's ``group_column`` or the file names by ``group_pattern``."""
    root = Path(data).expanduser()
    if not root.exists():
        raise DataError(f"no such audio folder or manifest: {root}")
    if group_column is not None and group_pattern is not None:
        raise DataError("choose --group-column or --group-pattern, not both")
    if group_column is not None and not root.is_file():
        raise DataError(
            f"--group-column {group_column!r} names a column of a manifest; {root} is a "
            "folder (for file names use --group-pattern REGEX)"
        )
    test_rule = _compile(test_pattern, "--test-pattern") if test_pattern else None
    if root.is_file():
        recordings = _from_manifest(root, group_column)
    elif label_pattern is not None:
        recordings = _from_names(root, _compile(label_pattern, "--label-pattern"))
    else:
        recordings = _from_subfolders(root)
    if test_rule is not None:
        recordings = [
            Recording(r.path, r.label, bool(test_rule.search(r.path.name)), r.group)
            for r in recordings
        ]
    if group_pattern is not None:
        found = groups_from_names(
            [r.path.name for r in recordings], group_pattern, "--group-pattern"
        )
        recordings = [
            Recording(r.path, r.label, r.test, g) for r, g in zip(recordings, found, strict=True)
        ]
    return sorted(recordings, key=lambda r: str(r.path))


def _compile(pattern: str, option: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DataError(f"{option} {pattern!r} is not a regular expression: {exc}") from None


def _wav_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == WAV_SUFFIX)


def _from_names(folder: Path, rule: re.Pattern[str]) -> list[Recording]:
    files = _wav_files(folder)
    if not files:
        raise DataError(f"no .wav files in {folder}")
    recordings = []
    for file in files:
        match = rule.search(file.name)
        if match is None:
            continue
        label = match.group(1) if rule.groups else match.group(0)
        recordings.append(Recording(file, label, None))
    if not recordings:
        raise DataError(
            f"--label-pattern {rule.pattern!r} matches none of the {len(files)} .wav files in "
            f"{folder} (e.g. {files[0].name})"
        )
    return recordings


def _from_subfolders(folder: Path) -> list[Recording]:
    recordings = [
        Recording(file, sub.name, None)
        for sub in sorted(p for p in folder.iterdir() if p.is_dir())
        for file in _wav_files(sub)
    ]
    if not recordings:
        flat = _wav_files(folder)
        hint = (
            f"; its {len(flat)} .wav files need --label-pattern REGEX to name their labels"
            if flat
            else ""
        )
        raise DataError(f"no .wav files in class subfolders of {folder}{hint}")
    return recordings


def _from_manifest(manifest: Path, group_column: str | None = None) -> list[Recording]:
    with manifest.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "path" not in columns or "label" not in columns:
            raise DataError(
                f"{manifest} is not an audio manifest: it needs a header path,label[,split], "
                f"not {','.join(columns) or 'nothing'}"
            )
        if group_column is not None and group_column not in columns:
            raise DataError(
                f"{manifest} has no group column {group_column!r}; columns: {', '.join(columns)}"
            )
        recordings = []
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not row["path"] or not row["label"]:
                raise DataError(f"{manifest} line {number} needs a path and a label")
            split = row.get("split", "").lower()
            if split not in ("", "train", "test"):
                raise DataError(f"{manifest} line {number}: split is train or test, not {split!r}")
            path = Path(row["path"])
            path = path if path.is_absolute() else manifest.parent / path
            group = None if group_column is None else row[group_column]
            if group_column is not None and not group:
                raise DataError(f"{manifest} line {number} has no group in {group_column!r}")
            test = (split == "test") if split else None
            recordings.append(Recording(path, row["label"], test, group))
    if not recordings:
        raise DataError(f"{manifest} lists no recordings")
    return recordings


def load_audio_task(
    data: str | Path,
    *,
    label_pattern: str | None = None,
    test_pattern: str | None = None,
    sample_rate: int | None = None,
    seconds: float = 1.0,
    n_mels: int = 40,
    as_image: bool = False,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    seed: int = 0,
    name: str | None = None,
    group_column: str | None = None,
    group_pattern: str | None = None,
    utterance_norm: bool = False,
) -> Task:
    """An audio classification task (see the module docstring); the features' settings
    are the task's ``preprocessing``, class ids follow the sorted label names.
    ``as_image=True`` gives one-channel images ``(1, n_mels, frames)`` (normalized as one
    channel) for the image spaces (`mobilenet`, `nb201`) instead of sequences.
    ``utterance_norm``: each recording normalized over its own frames first (see the module
    docstring)."""
    if not seconds > 0 or n_mels < 1:
        raise DataError(f"audio needs seconds > 0 and n_mels >= 1, not {seconds} and {n_mels}")
    recordings = find_recordings(
        data,
        label_pattern=label_pattern,
        test_pattern=test_pattern,
        group_column=group_column,
        group_pattern=group_pattern,
    )
    if sample_rate is None:
        rates = Counter(read_wav(r.path)[1] for r in recordings[:: max(1, len(recordings) // 50)])
        sample_rate = max(rates, key=lambda rate: (rates[rate], rate))
    features = LogMel(int(sample_rate), round(seconds * sample_rate), n_mels, utterance_norm)
    labels = np.array([r.label for r in recordings])
    decided = [r.test for r in recordings]
    grouped = group_column is not None or group_pattern is not None
    groups = np.array([str(r.group) for r in recordings]) if grouped else None
    if all(flag is None for flag in decided):
        class_ids = np.unique(labels, return_inverse=True)[1]
        train_idx, test_idx = held_out_split(class_ids, groups, test_fraction, seed)
    else:
        test_idx = np.array([i for i, flag in enumerate(decided) if flag], dtype=np.intp)
        train_idx = np.array([i for i, flag in enumerate(decided) if not flag], dtype=np.intp)
        if not len(test_idx) or not len(train_idx):
            raise DataError(
                f"the test rule puts {len(test_idx)} of {len(recordings)} recordings in the "
                "test set; it needs some in each"
            )
    class_names = tuple(sorted(set(labels[train_idx].tolist())))
    if len(class_names) < 2:
        raise DataError(f"the audio in {data} has one label; a task needs at least 2")
    unseen = sorted(set(labels[test_idx].tolist()) - set(class_names))
    if unseen:
        raise DataError(f"test labels {', '.join(unseen[:3])} have no training recordings")
    index = {label: i for i, label in enumerate(class_names)}
    paths = [r.path for r in recordings]
    x = features.features(paths)
    if as_image:
        x = x[:, None]
    y = np.array([index[label] for label in labels], dtype=np.int64)
    task = make_task(
        name or Path(data).name,
        x[train_idx],
        y[train_idx],
        x[test_idx],
        y[test_idx],
        valid_fraction=valid_fraction,
        seed=seed,
        num_classes=len(class_names),
        class_names=class_names,
        groups=None if groups is None else groups[train_idx],
    )
    return task.with_preprocessing({**features.to_dict(), "as_image": as_image})
