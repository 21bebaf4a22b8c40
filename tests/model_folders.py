"""Saved-model folders of a text, an audio and a digits model (untrained: the tests compare
paths through the code, not accuracy), for the predict and ONNX-input tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from conftest import shared_file
from nasforge.data import load_digits_task
from nasforge.data.audio import load_audio_task
from nasforge.data.task import Task
from nasforge.data.text import load_text_task
from nasforge.export import save_model
from nasforge.space import make_space
from nasforge.space.base import SearchSpace


def _save(folder: Path, space: SearchSpace, task: Task) -> Path:
    arch = space.sample(np.random.default_rng(1))
    torch.manual_seed(0)
    net = space.build(arch, task.input_shape, task.num_classes).eval()
    return save_model(folder, space=space, arch=arch, model=net, task=task)


def text_model(folder: Path) -> Path:
    """A textconv model on the first 300 TREC training questions."""
    trec = shared_file("NASFORGE_DATA", "data", "trec", "train_5500.label")
    lines = trec.read_bytes().decode("latin-1").splitlines()[:300]
    (folder / "trec.label").write_text("\n".join(lines) + "\n", encoding="utf-8")
    task = load_text_task(folder / "trec.label")
    assert task.preprocessing is not None
    vocab_size = len(task.preprocessing["vocabulary"])
    space = make_space("textconv", vocab_size=vocab_size, embed_dims=[16], widths=[0, 8])
    return _save(folder / "text_model", space, task)


def fsdd_folder(folder: Path) -> Path:
    """A flat folder of 24 FSDD recordings: george and theo saying 0, 1 and 2."""
    source = shared_file("NASFORGE_DATA", "data", "fsdd", "recordings", "0_george_0.wav").parent
    folder.mkdir(parents=True, exist_ok=True)
    for digit in "012":
        for speaker in ("george", "theo"):
            for index in range(4):
                name = f"{digit}_{speaker}_{index}.wav"
                shutil.copy(source / name, folder / name)
    return folder


def audio_model(folder: Path) -> tuple[Path, Path]:
    """A conv1d model on log-mel features, and the folder of its recordings."""
    wavs = fsdd_folder(folder / "wavs")
    task = load_audio_task(wavs, label_pattern=r"^(\d)_", test_fraction=0.25, valid_fraction=0.2)
    return _save(folder / "audio_model", make_space("conv1d"), task), wavs


def digits_model(folder: Path) -> Path:
    """An mlp model on scikit-learn digits, inputs (1, 8, 8)."""
    return _save(folder / "digits_model", make_space("mlp"), load_digits_task(seed=0))
