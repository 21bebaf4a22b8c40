"""The space and the mini-batch a zero-cost proxy run scores with: from a task, or none."""

from __future__ import annotations

from typing import Any

from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError, SpaceError
from nasforge.proxies.base import ProxyBatch
from nasforge.space.base import SearchSpace


def proxy_space_and_batch(
    space_name: str | None,
    space_params: dict[str, Any],
    task: TaskOptions | None,
    *,
    batch_size: int,
    seed: int,
    on_note: Any = lambda line: None,
) -> tuple[SearchSpace, ProxyBatch, dict[str, Any] | None]:
    """The space, the proxies' batch (of the task's training split, or data-free) and the
    task's spec (None without a task); ``on_note`` hears the task's notes."""
    from nasforge.data.task_options import build_task
    from nasforge.evaluate.proxy import data_free_batch
    from nasforge.run.setup import default_space_name
    from nasforge.space import is_spec, make_space, spaces_fitting

    if task is None:
        chosen = make_space(space_name or "nb201", **space_params)
        return chosen, data_free_batch(chosen, size=batch_size), None
    loaded = build_task(task)
    for note in getattr(loaded, "notes", ()):
        on_note(note)
    chosen = make_space(space_name or default_space_name(loaded.input_shape), **space_params)
    try:
        chosen.check_input(loaded.input_shape)
    except SpaceError as exc:
        if space_name is not None and is_spec(space_name):  # the user's own space
            raise
        fitting = ", ".join(spaces_fitting(loaded.input_shape)) or "none"
        raise SpaceError(f"{exc}; spaces that fit task {task.name!r}: {fitting}") from None
    batch = ProxyBatch.from_arrays(
        loaded.x_train, loaded.y_train, loaded.num_classes, size=batch_size, seed=seed
    )
    return chosen, batch, task.spec()


def proxy_task(task: str | None, data: Any, label_column: str | None) -> TaskOptions | None:
    """The task a proxy run draws its batch from (None: data-free), its options checked."""
    if task is None:
        if data is not None:
            raise ConfigError("--data needs --task (the task the data file holds)")
        if label_column is not None:
            raise ConfigError("--label-column needs --task csv")
        return None
    return TaskOptions(task, data, label_column)
