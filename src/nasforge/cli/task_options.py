"""The task options, declared once: `with_task_options` adds them to a command.

A command names one parameter ``task_options: TaskOptions``; the decorator puts the task
options in its place (so they keep their position in ``--help``) and hands the command the
`TaskOptions` they make, which `nasforge.data.task_options.build_task` loads.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from inspect import Parameter
from pathlib import Path
from typing import Annotated, Any

from nasforge.cli.options import opt
from nasforge.cli.settings import F, replace_parameter
from nasforge.data.loaders import TASK_NAMES
from nasforge.data.task_options import TaskOptions

PARAMETER = "task_options"
"""The parameter of a command that receives the `TaskOptions`."""
TASKS = ", ".join(TASK_NAMES)
"""The built-in tasks, for --help."""
CSV_LABEL_HELP = "Label column of a csv task."
TASK_OPTIONS = TaskOptions()
"""The default of a command's ``task_options`` parameter, which `with_task_options` fills."""

DataOption = Annotated[
    Path | None,
    opt("Data file or folder for the task (default: $NASFORGE_DATA).", show_default=False),
]


LOADER_HELP = {
    "test_data": "Text task: a file of test examples (else a stratified fifth of --data).",
    "text_column": "Text task: the text column of a csv/tsv file (default text).",
    "fine": "Text task in TREC lines: the 50 fine classes, not the 6 coarse.",
    "max_length": "Text task: tokens kept per text (default: the longest, up to 256).",
    "label_pattern": "Audio task: a regular expression whose first group is the label in a "
    "file's name (FSDD: '^(\\d)_').",
    "test_pattern": "Audio task: files whose name matches this regular expression are the test "
    "set (FSDD's usual split: '_[0-4]\\.wav$').",
    "spectrogram_image": "Audio task: one-channel images (1, bands, frames) for image spaces "
    "(mobilenet, nb201) instead of sequences for conv1d.",
    "group_column": "csv, text table, audio or image manifest: the column naming each "
    "example's group (a speaker, a patient, a source); validation then takes whole groups, "
    "unseen in training.",
    "group_pattern": "Audio or images task: a regular expression whose first group is the "
    "group in a file's name (FSDD's speaker: '^\\d_(\\[a-z]+)_'); validation then takes whole "
    "groups.",
    "image_size": "Images task: the side in pixels that every image is resized to (default 32).",
    "loader_workers": "Images task: processes that decode batches while the model trains "
    "(default 0: the training process decodes them).",
    "skip_bad_files": "Images task: leave out image files that do not decode (with a note) "
    "instead of stopping.",
}
"""The help of the text, audio, images and group options (`TaskOptions` fields)."""


def _loader_options() -> list[tuple[str, Any, Any]]:
    """(parameter, annotation, default) of each `LOADER_HELP` option: typed and defaulted as
    its `TaskOptions` field; a flag is named --NAME only (no --no-NAME)."""
    hints = typing.get_type_hints(TaskOptions)
    declared = []
    for name, help in LOADER_HELP.items():
        flag = hints[name] is bool
        names = (f"--{name.replace('_', '-')}",) if flag else ()
        option = opt(help, *names, show_default=flag)
        declared.append((name, Annotated[hints[name], option], getattr(TASK_OPTIONS, name)))
    return declared


def with_task_options(
    *, task_help: str, label_help: str = CSV_LABEL_HELP, loaders: bool = True
) -> Callable[[F], F]:
    """Give a command the task options in place of its ``task_options`` parameter: --task
    (help `task_help`), --data, --label-column (help `label_help`) and, with `loaders`, the
    text, audio, images and group options; the command receives them as one `TaskOptions`."""
    declared: list[tuple[str, Any, Any]] = [
        ("task", Annotated[str, opt(task_help)], "digits"),
        ("data", DataOption, None),
        ("label_column", Annotated[str | None, opt(label_help)], None),
        *(_loader_options() if loaders else []),
    ]
    added = [Parameter(name, Parameter.KEYWORD_ONLY, default=default, annotation=kind)
             for name, kind, default in declared]  # fmt: skip

    def build(given: dict[str, Any]) -> TaskOptions:
        given["name"] = given.pop("task")
        return TaskOptions(**given)

    return replace_parameter(PARAMETER, added, build)
