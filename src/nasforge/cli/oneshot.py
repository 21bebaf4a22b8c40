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
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from nasforge.cli.app import app
from nasforge.cli.common import (
    parse_options,
    print_task_notes,
    user_errors,
)
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
from nasforge.cli.oneshot_output import print_summary, progress
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
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    pass


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
    from nasforge.device import resolve_settings
    from nasforge.oneshot.run_checks import check_run_outputs, check_run_settings
    from nasforge.run.oneshot_record import check_name_free

    device, precision = resolve_settings(device, precision)
    if method == "pc-darts" and partial_channels == 1:
        from nasforge.oneshot.pc_darts import DEFAULT_PARTIAL_CHANNELS

        partial_channels = DEFAULT_PARTIAL_CHANNELS
    check_run_settings(method, epochs, batch_size, memory_limit_mb, max_minutes, finetune_epochs)
    check_run_outputs(
        out=out,
        finetune_epochs=finetune_epochs,
        partial_channels=partial_channels,
        benchmark=benchmark,
        space=space,
        onnx=onnx,
    )
    if name is not None:
        check_name_free(store, name)
    if onnx:
        if out is None or partial_channels > 1:
            raise ConfigError("--onnx exports the saved child: it needs --out")
        from nasforge.export.onnx import require_onnx

        require_onnx()

    from nasforge.data.task_options import build_task
    from nasforge.run.setup import TRAIN_SPACE_DEFAULTS, task_space_params
    from nasforge.space import make_space, space_key

    task_options.loader_options()  # wrong options for the task: refused before loading
    given = parse_options(space_option or [], "space option")
    params = {**TRAIN_SPACE_DEFAULTS.get(space, {}), **given}
    loaded = build_task(task_options)
    print_task_notes(loaded)
    params = task_space_params(loaded, space, params)
    chosen_space = make_space(space, **params)

    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.oneshot import make_method
    from nasforge.oneshot.method import require_op_choices

    require_op_choices(chosen_space)
    table = NB201Table.from_csv(benchmark) if benchmark is not None else None
    chosen_space.check_input(loaded.input_shape)
    options: dict[str, Any] = parse_options(method_option or [], "method option")
    if partial_channels != 1:
        options["partial_channels"] = partial_channels
    latency: dict[str, Any] = {}
    if (latency_table is None) != (latency_target is None):
        raise ConfigError("--latency-table and --latency-target go together")
    if latency_table is not None:
        from nasforge.measure.latency_table import LatencyTable

        latency = {
            "latency_table": LatencyTable.load(latency_table),
            "latency_target": latency_target,
            "latency_weight": latency_weight,
        }
    searcher = make_method(method, chosen_space, **options, **latency)

    stderr = Console(stderr=True)
    if not stderr.is_terminal:  # logs: room for whole NB201 strings on one line
        stderr = Console(stderr=True, width=200)
    started = time.perf_counter()
    with progress(stderr, chosen_space, method, quiet=as_json) as monitor:
        result = searcher.search(
            loaded,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            threads=threads,
            memory_limit=None if memory_limit_mb is None else memory_limit_mb * 1024**2,
            max_seconds=None if max_minutes is None else 60.0 * max_minutes,
            monitor=monitor,
            device=device,
            precision=precision,
        )
    seconds = time.perf_counter() - started

    from nasforge.export.oneshot_child import export_child
    from nasforge.oneshot.summary import benchmark_lookup, retrain_command, run_summary

    space_name = space_key(chosen_space)
    payload = run_summary(
        result, chosen_space, method, space_name, params, task_options.name, seconds
    )
    payload.update(child=None, finetune=None, model_dir=None)
    if partial_channels == 1:
        payload.update(
            export_child(
                result,
                chosen_space,
                loaded,
                out=out,
                finetune_epochs=finetune_epochs,
                finetune_lr=finetune_lr,
                batch_size=batch_size,
                seed=seed,
                threads=threads,
                device=device,
                precision=precision,
                on_line=(lambda line: None) if as_json else Console(stderr=True).print,
            )
        )
    if table is not None:
        payload["benchmark"] = benchmark_lookup(table, chosen_space, result.arch)
    payload["retrain_command"] = retrain_command(payload["arch"], task_options, space_name, params)
    if onnx and payload.get("model_dir"):
        from nasforge.export.onnx import export_beside

        payload["onnx"] = export_beside(payload["model_dir"], trust_space_code=True).to_dict()
    if name is not None:
        from nasforge.run.oneshot_record import record_summary
        from nasforge.space.stored import space_config

        record_summary(
            store,
            name,
            payload,
            arch=result.arch,
            space_config=space_config(chosen_space),
            method_options=options,
            seed=seed,
            diagnostics=result.diagnostics,
        )
        payload["store"] = {"path": str(store), "name": name}
    if as_json:
        typer.echo(json.dumps(payload))
        return
    print_summary(payload)
