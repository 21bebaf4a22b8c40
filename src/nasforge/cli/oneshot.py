"""`nasforge oneshot`: one-shot search (DARTS, GDAS, ENAS, SPOS, beta-DARTS) on a task.

A supernet of the space is trained once on half of the task's training data (all but a tenth
for SPOS and ENAS); the method reads the architecture off it. Before training the estimated
peak memory is printed (and checked against ``--memory-limit-mb``); a progress bar on stderr
shows each epoch's loss and argmax architecture. Afterwards the found architecture's child
network inherits the supernet's weights (BatchNorm statistics recomputed on training
images), is tested, and with ``--out`` saved in the folder format of ``nasforge train
--out``; ``--finetune-epochs`` trains it further first. The printed architecture string
retrains from scratch with ``nasforge train``. With ``--benchmark`` it is also looked up in
NAS-Bench-201.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nasforge.cli.app import app
from nasforge.cli.common import echo_err, echo_note, parse_options, print_lines, user_errors
from nasforge.cli.oneshot_options import (
    METHOD_DEPARTURES,
    METHOD_NAMES,
    BenchmarkOption,
    FinetuneEpochsOption,
    LatencyTableOption,
    LatencyTargetOption,
    MaxMinutesOption,
    MemoryLimitMbOption,
    MethodOption,
    MethodOptionOption,
    NameOption,
    OutOption,
    PartialChannelsOption,
    SpaceOption,
    StoreOption,
)
from nasforge.cli.options import (
    DEFAULT_STORE,
    DeviceOption,
    JsonOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
)
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions

__all__ = ["METHOD_NAMES", "oneshot"]


@app.command(
    epilog="Departures from the papers: "
    + "; ".join(f"{name}: {text}" for name, text in METHOD_DEPARTURES.items())
    + "."
)
@user_errors
@with_task_options(task_help=f"Task to search on: {TASKS}.")
def oneshot(
    method: MethodOption = "darts",
    space: SpaceOption = "nb201",
    space_option: SpaceOptions = None,
    method_option: MethodOptionOption = None,
    task_options: TaskOptions = TASK_OPTIONS,
    epochs: Annotated[int, typer.Option(help="Epochs of supernet training.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Batch size (weights and architecture).")] = 64,
    seed: Annotated[int, typer.Option(help="Seed: the same seed finds the same arch.")] = 0,
    partial_channels: PartialChannelsOption = 1,
    memory_limit_mb: MemoryLimitMbOption = None,
    max_minutes: MaxMinutesOption = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    benchmark: BenchmarkOption = None,
    out: OutOption = None,
    finetune_epochs: FinetuneEpochsOption = 0,
    finetune_lr: Annotated[float, typer.Option(help="Learning rate of the fine-tuning.")] = 0.01,
    name: NameOption = None,
    store: StoreOption = Path(DEFAULT_STORE),
    latency_table: LatencyTableOption = None,
    latency_target: LatencyTargetOption = None,
    latency_weight: Annotated[
        float, typer.Option(help="Weight of the latency term (darts-family methods).")
    ] = 0.5,
    as_json: JsonOption = False,
    onnx: OnnxOption = False,
) -> None:
    """Search a space with a one-shot method: train its supernet once, read the arch off it.

    Defaults fit a CPU: nb201 with channels=8, cells_per_stage=1 (change them with -s).

    The printed arch retrains from scratch with 'nasforge train ARCH'.
    """
    from nasforge.report.oneshot_progress import oneshot_progress
    from nasforge.report.oneshot_text import oneshot_lines
    from nasforge.run.oneshot_run import OneshotSettings, plan_oneshot

    settings = OneshotSettings(
        method, space, parse_options(space_option or [], "space option"),
        parse_options(method_option or [], "method option"), epochs, batch_size, seed,
        partial_channels, memory_limit_mb, max_minutes, threads, device, precision, benchmark,
        out, finetune_epochs, finetune_lr, name, store, latency_table, latency_target,
        latency_weight, onnx,
    )  # fmt: skip
    plan = plan_oneshot(settings, task_options, on_note=echo_note)
    stderr = Console(stderr=True)
    if not stderr.is_terminal:  # logs: room for whole NB201 strings on one line
        stderr = Console(stderr=True, width=200)
    with oneshot_progress(stderr, plan.space, method, quiet=as_json) as monitor:
        payload = plan.run(monitor, on_line=(lambda line: None) if as_json else echo_err)
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_lines(oneshot_lines(payload), soft_wrap=True)
