"""`nasforge oneshot`: one-shot search (DARTS, GDAS, ENAS, SPOS, beta-DARTS, PC-DARTS) on a
task: `nasforge.run.oneshot_run` trains the supernet once and reads the architecture off
it; its child inherits the supernet's weights, is tested and, with --out, saved."""

from __future__ import annotations

from typing import Annotated

from rich.console import Console

from nasforge.cli.app import app
from nasforge.cli.common import echo_err, echo_note, print_payload, user_errors
from nasforge.cli.options import (
    OWN_SPACE_HELP,
    DeviceOption,
    JsonOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
    ThreadsOption,
    opt,
)
from nasforge.cli.settings import Parsed, with_settings
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.run.oneshot_run import METHOD_DEPARTURES, METHOD_NAMES, METHOD_NOTES, OneshotSettings
from nasforge.run.setting_words import parse_options

__all__ = ["METHOD_NAMES", "oneshot"]

ONESHOT_OPTIONS = {
    "method": opt(", ".join(f"{name} ({METHOD_NOTES[name]})" if name in METHOD_NOTES else name
                            for name in METHOD_NAMES) + "."),
    "space": opt("Search space with op choices. nb201 defaults to channels=8, cells_per_stage=1 "
                 "(fits a CPU); override with -s. " + OWN_SPACE_HELP),
    "space_params": Parsed(SpaceOptions, lambda given: parse_options(given or [], "space option")),
    "method_options": Parsed(
        Annotated[list[str] | None, opt(
            "Method setting KEY=VALUE, e.g. arch_lr=0.003, warmup_epochs=30, augment=true, "
            "exclude_ops=none (repeatable; a wrong key lists the valid ones).",
            "--method-option", "-o")],
        lambda given: parse_options(given or [], "method option"),
    ),
    "epochs": opt("Epochs of supernet training."),
    "batch_size": opt("Batch size (weights and architecture)."),
    "seed": opt("Seed: the same seed finds the same arch."),
    "partial_channels": opt("PC-DARTS: send 1/K of the channels through the mixed ops (darts, "
                            "darts2, beta-darts); the child then cannot inherit weights."),
    "memory_limit_mb": opt("Refuse to train if the estimated peak exceeds this (default: free "
                           "RAM)."),
    "max_minutes": opt("Stop training after the epoch during which this much time passed."),
    "threads": ThreadsOption,
    "device": DeviceOption,
    "precision": PrecisionOption,
    "benchmark": opt("NAS-Bench-201 table (nb201.csv): look the found arch up in it.",
                     "--benchmark", show_default=False),
    "out": opt("Save the child with inherited weights in this folder."),
    "finetune_epochs": opt("Train the child with inherited weights this many epochs."),
    "finetune_lr": opt("Learning rate of the fine-tuning."),
    "name": opt("Keep the run in --store under this name (for nasforge report, dashboard, "
                "best).", "--name", show_default=False),
    "store": opt("SQLite file that keeps the run (with --name).", "--store"),
    "latency_table": opt("Latency lookup table of the mobilenet space built here for this task "
                         "('nasforge latency build'); needs --latency-target.",
                         show_default=False),
    "latency_target": opt("Latency target in ms: darts-family methods add weight * "
                          "E\\[latency] / target to the architecture loss; spos trains and "
                          "evolves only archs predicted within it.", show_default=False),
    "latency_weight": opt("Weight of the latency term (darts-family methods)."),
    "onnx": OnnxOption,
}  # fmt: skip
"""The options of `OneshotSettings`, in the order of ``nasforge oneshot --help``."""


@app.command(
    epilog="Departures from the papers: "
    + "; ".join(f"{name}: {text}" for name, text in METHOD_DEPARTURES.items())
    + "."
)
@user_errors
@with_task_options(task_help=f"Task to search on: {TASKS}.")
@with_settings(OneshotSettings, ONESHOT_OPTIONS, parameter="settings")
def oneshot(
    task_options: TaskOptions = TASK_OPTIONS,
    settings: OneshotSettings = OneshotSettings(),
    as_json: JsonOption = False,
) -> None:
    """Search a space with a one-shot method: train its supernet once, read the arch off it.

    Defaults fit a CPU: nb201 with channels=8, cells_per_stage=1 (change them with -s).

    The printed arch retrains from scratch with 'nasforge train ARCH'.
    """
    from nasforge.report.oneshot_progress import oneshot_progress
    from nasforge.report.oneshot_text import oneshot_lines
    from nasforge.run.oneshot_run import plan_oneshot

    plan = plan_oneshot(settings, task_options, on_note=echo_note)
    stderr = Console(stderr=True)
    if not stderr.is_terminal:  # logs: room for whole NB201 strings on one line
        stderr = Console(stderr=True, width=200)
    with oneshot_progress(stderr, plan.space, settings.method, quiet=as_json) as monitor:
        payload = plan.run(monitor, on_line=(lambda line: None) if as_json else echo_err)
    print_payload(payload, as_json, oneshot_lines, soft_wrap=True)
