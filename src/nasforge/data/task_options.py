"""The options that pick and load a task, as one typed value, and the `Task` they give.

Every command that takes a task (search, train, oneshot, proxies) reads the same options;
`TaskOptions` holds them and `build_task` loads the task they name, so the command line and
the Python API load a task the same way.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.data.task import Task

TEXT_OPTIONS = {
    "test_path": "--test-data",
    "text_column": "--text-column",
    "fine": "--fine",
    "max_length": "--max-length",
}
AUDIO_OPTIONS = {
    "label_pattern": "--label-pattern",
    "test_pattern": "--test-pattern",
    "as_image": "--spectrogram-image",
}
IMAGE_OPTIONS = {
    "image_size": "--image-size",
    "loader_workers": "--loader-workers",
    "skip_bad_files": "--skip-bad-files",
}
"""Loader options of the text, audio and images tasks, with the flag that sets each."""
LOADER_FLAGS = {
    "label_column": "--label-column",
    **TEXT_OPTIONS,
    **AUDIO_OPTIONS,
    **IMAGE_OPTIONS,
    "group_column": "--group-column",
    "group_pattern": "--group-pattern",
}
GROUP_COLUMN_TASKS = ("csv", "text", "audio", "images")
GROUP_PATTERN_TASKS = ("audio", "images")


@dataclass(frozen=True)
class TaskOptions:
    """A task by name (`nasforge.data.loaders.TASK_NAMES`) with its data and loader options.

    ``data`` defaults to ``$NASFORGE_DATA``; the text, audio and images options are refused
    for another task (`loader_options`)."""

    name: str = "digits"
    data: Path | None = None
    label_column: str | None = None
    test_data: Path | None = None
    text_column: str | None = None
    fine: bool = False
    max_length: int | None = None
    label_pattern: str | None = None
    test_pattern: str | None = None
    spectrogram_image: bool = False
    group_column: str | None = None
    group_pattern: str | None = None
    image_size: int | None = None
    loader_workers: int | None = None
    skip_bad_files: bool = False

    def loader_options(self) -> dict[str, Any]:
        """The keyword options of the task's loader besides ``label_column`` (a ConfigError
        names those given for a task they do not apply to)."""
        test_path = self.test_data
        given: dict[str, dict[str, Any]] = {
            "text": {
                "test_path": str(test_path.expanduser().resolve()) if test_path else None,
                "text_column": self.text_column,
                "fine": self.fine or None,
                "max_length": self.max_length,
            },
            "audio": {
                "label_pattern": self.label_pattern,
                "test_pattern": self.test_pattern,
                "as_image": self.spectrogram_image or None,
            },
            "images": {
                "image_size": self.image_size,
                "loader_workers": self.loader_workers,
                "skip_bad_files": self.skip_bad_files or None,
            },
        }
        for kind, values in given.items():
            used = [LOADER_FLAGS[key] for key, value in values.items() if value is not None]
            if used and self.name != kind:
                raise ConfigError(
                    f"{', '.join(used)} apply to --task {kind}, not --task {self.name}"
                )
        if self.group_column is not None and self.name not in GROUP_COLUMN_TASKS:
            raise ConfigError(
                f"--group-column applies to --task csv, text, audio or images, not {self.name}"
            )
        if self.group_pattern is not None and self.name not in GROUP_PATTERN_TASKS:
            raise ConfigError(
                f"--group-pattern applies to --task audio or images, not --task {self.name}"
            )
        groups = {"group_column": self.group_column, "group_pattern": self.group_pattern}
        chosen = {**given["text"], **given["audio"], **given["images"], **groups}
        return {key: value for key, value in chosen.items() if value is not None}

    def options(self) -> dict[str, Any]:
        """Every loader option: ``label_column`` (when given), then `loader_options`."""
        found = {"label_column": self.label_column} if self.label_column else {}
        return {**found, **self.loader_options()}

    def data_path(self) -> str | None:
        """The data file or folder, resolved: ``data``, else ``$NASFORGE_DATA``, else None."""
        return resolve_data(self.data)

    def spec(self) -> dict[str, Any]:
        """The task as a stored experiment records it (name, data, seed 0, options)."""
        return {"name": self.name, "data": self.data_path(), "seed": 0, "options": self.options()}

    def command_words(self) -> list[str]:
        """The options as command-line words (``--task NAME --data PATH ...``) that load this
        task again, e.g. in the command that retrains a found architecture."""
        words = ["--task", self.name]
        if self.data is not None:
            words += ["--data", str(self.data)]
        for key, value in self.options().items():
            flag = LOADER_FLAGS[key]
            words += [flag] if value is True else [flag, str(value)]
        return words


def build_task(options: TaskOptions) -> Task:
    """The task `options` name, loaded (with seed 0: the split does not move with a search's
    seed)."""
    from nasforge.data.loaders import load_task

    return load_task(options.name, options.data_path(), seed=0, **options.options())


def resolve_data(data: Path | None) -> str | None:
    """``data``, else ``$NASFORGE_DATA``, as an absolute path; None if neither is set."""
    from nasforge.data.loaders import DATA_ENV

    where = str(data) if data is not None else os.environ.get(DATA_ENV)
    return str(Path(where).expanduser().resolve()) if where else None


def shell_words(words: list[str]) -> str:
    """``words`` as one shell command line."""
    return " ".join(shlex.quote(word) for word in words)
