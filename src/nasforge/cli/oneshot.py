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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from nasforge.cli.app import app
from nasforge.cli.common import (
    DEFAULT_STORE,
    OWN_SPACE_HELP,
    DeviceOption,
    JsonOption,
    OnnxOption,
    PrecisionOption,
    SpaceOptions,
    parse_options,
    print_task_notes,
    stdout_console,
    user_errors,
)
from nasforge.cli.task_options import TASK_OPTIONS, TASKS, with_task_options
from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.oneshot import MemoryEstimate, SearchMonitor
    from nasforge.space.base import SearchSpace
    from nasforge.training import EpochMetrics

METHOD_NAMES = ("darts", "darts2", "gdas", "enas", "spos", "beta-darts", "pc-darts")
"""For --help and early checks (the registry, `nasforge.oneshot.METHODS`, imports torch)."""
METHOD_NOTES = {
    "darts": "first order",
    "darts2": "second order",
    "pc-darts": "partial channels, K=4",
}
METHOD_DEPARTURES = {
    "darts": "weights cosine-annealed to eta_min 0.001 and, with augment, both halves "
    "augmented, as the paper",
    "darts2": "as darts",
    "pc-darts": "arch lr 6e-4 and architecture steps from 0.3 of the epochs (15 of 50) as "
    "the paper, cosine to 0 as its code; no edge normalization; weight lr 0.025 at batch 64 "
    "(paper 0.1 at 256)",
    "gdas": "cosine to eta_min 0.001 as the paper",
    "beta-darts": "weight 50 * epoch / lambda_epochs (100, as the reference code)",
    "enas": "the supernet trains on all but a validation set of 0.1 (arch_share), as its "
    "code (5,000 of 50,000); weights at lr 0.025 cosine to 0.001, weight decay 3e-4 (its "
    "micro search, melodyguan/enas: 0.05 to 0.0005 cosine with warm restarts, periods of 10, "
    "20, 40... epochs, weight decay 1e-4); controller lr 1e-2, 10 steps of 10 paths an epoch "
    "(code 3.5e-3, 30 of 10)",
    "spos": "the supernet trains on all but a validation set of 0.1 (arch_share; the paper "
    "holds out 50,000 of ImageNet's 1.28M training images); weights at lr 0.025 cosine to "
    "0.001, Nesterov, weight decay 3e-4 (its code, megvii-model/SinglePathOneShot: lr 0.5 at "
    "batch 1024 decayed linearly to 0, plain momentum 0.9, weight decay 4e-5 on conv and "
    "linear weights only, label smoothing 0.1); tournament evolution, 20 for 10 generations "
    "(code: top 10 kept, 25 mutations and 25 crossovers, 50 for 20 generations)",
}
"""Where each method's defaults depart from its paper (or agree where users might doubt it),
shown by ``nasforge oneshot --help``."""


@app.command(
    epilog="Departures from the papers: "
    + "; ".join(f"{name}: {text}" for name, text in METHOD_DEPARTURES.items())
    + "."
)
@user_errors
@with_task_options(task_help=f"Task to search on: {TASKS}.")
def oneshot(
    method: Annotated[
        str,
        typer.Option(
            help=", ".join(
                f"{name} ({METHOD_NOTES[name]})" if name in METHOD_NOTES else name
                for name in METHOD_NAMES
            )
            + "."
        ),
    ] = "darts",
    space: Annotated[
        str,
        typer.Option(
            help="Search space with op choices. nb201 defaults to channels=8, "
            "cells_per_stage=1 (fits a CPU); override with -s. " + OWN_SPACE_HELP
        ),
    ] = "nb201",
    space_option: SpaceOptions = None,
    method_option: Annotated[
        list[str] | None,
        typer.Option(
            "--method-option",
            "-o",
            help="Method setting KEY=VALUE, e.g. arch_lr=0.003, warmup_epochs=30, "
            "augment=true, exclude_ops=none (repeatable; a wrong key lists the valid ones).",
        ),
    ] = None,
    task_options: TaskOptions = TASK_OPTIONS,
    epochs: Annotated[int, typer.Option(help="Epochs of supernet training.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Batch size (weights and architecture).")] = 64,
    seed: Annotated[int, typer.Option(help="Seed: the same seed finds the same arch.")] = 0,
    partial_channels: Annotated[
        int,
        typer.Option(
            help="PC-DARTS: send 1/K of the channels through the mixed ops (darts, darts2, "
            "beta-darts); the child then cannot inherit weights."
        ),
    ] = 1,
    memory_limit_mb: Annotated[
        float | None,
        typer.Option(
            help="Refuse to train if the estimated peak exceeds this (default: free RAM)."
        ),
    ] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(help="Stop training after the epoch during which this much time passed."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: torch's).")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    benchmark: Annotated[
        Path | None,
        typer.Option(
            "--benchmark",
            help="NAS-Bench-201 table (nb201.csv): look the found arch up in it.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Save the child with inherited weights in this folder."),
    ] = None,
    finetune_epochs: Annotated[
        int, typer.Option(help="Train the child with inherited weights this many epochs.")
    ] = 0,
    finetune_lr: Annotated[float, typer.Option(help="Learning rate of the fine-tuning.")] = 0.01,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Keep the run in --store under this name (for nasforge report, dashboard, best).",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        Path, typer.Option("--store", help="SQLite file that keeps the run (with --name).")
    ] = Path(DEFAULT_STORE),
    latency_table: Annotated[
        Path | None,
        typer.Option(
            help="Latency lookup table of the mobilenet space built here for this task "
            "('nasforge latency build'); needs --latency-target.",
            show_default=False,
        ),
    ] = None,
    latency_target: Annotated[
        float | None,
        typer.Option(
            help="Latency target in ms: darts-family methods add weight * E\\[latency] / "
            "target to the architecture loss; spos trains and evolves only archs predicted "
            "within it.",
            show_default=False,
        ),
    ] = None,
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
    with _progress(stderr, chosen_space, method, quiet=as_json) as monitor:
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
    _print(payload)


@contextmanager
def _progress(
    console: Console, space: SearchSpace, method: str, *, quiet: bool
) -> Iterator[SearchMonitor]:
    """A rich progress bar on stderr: the epochs (loss, argmax arch), then SPOS's generations."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from nasforge.oneshot import SearchMonitor

    class ProgressMonitor(SearchMonitor):
        def __init__(self, progress: Progress) -> None:
            self.progress = progress
            self.training: TaskID | None = None
            self.evolution: TaskID | None = None

        def on_start(self, memory: MemoryEstimate, epochs: int) -> None:
            console.print(f"Estimated peak memory of one {method} step: {memory}", soft_wrap=True)
            self.training = self.progress.add_task(method, total=epochs, status="")

        def on_epoch(self, metrics: EpochMetrics, arch: Arch | None) -> None:
            assert self.training is not None
            shown = "uniform paths" if arch is None else space.format(arch)
            status = f"loss {metrics.train_loss:.3f} · {shown}"
            self.progress.update(self.training, advance=1, status=status)

        def on_generation(
            self, generation: int, generations: int, score: float, arch: Arch
        ) -> None:
            if self.evolution is None:
                self.evolution = self.progress.add_task("evolution", total=generations, status="")
            status = f"best {100 * score:.1f}% · {space.format(arch)}"
            self.progress.update(self.evolution, completed=generation + 1, status=status)

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=quiet,
        disable=quiet and not console.is_terminal,
    ) as progress:
        yield ProgressMonitor(progress)


def _print(payload: dict[str, Any]) -> None:
    console = stdout_console()
    d = payload["diagnostics"]
    console.print(
        f"[bold]{payload['method']}[/] found [bold]{payload['arch']}[/] in "
        f"{payload['seconds']:.1f} s ({payload['epochs']} epochs; supernet valid accuracy "
        f"{payload['supernet_valid_accuracy']:.1f}%)",
        soft_wrap=True,
    )
    if payload["not_searched"]:
        console.print(
            f"  not searched by {payload['method']} (left at their largest value, the first "
            "of strings): "
            f"{', '.join(payload['not_searched'])}; spos and enas search them",
            soft_wrap=True,
        )
    if payload["latency_ms_predicted"] is not None:
        console.print(
            f"  predicted latency {payload['latency_ms_predicted']:.3f} ms (lookup table)"
        )
    if d["final_skip_share"] is not None:
        unit = "generation" if d["unit"] == "generation" else "epoch"
        console.print(
            f"  last {unit}: skip connections {d['final_skip_share']:.0%} of the edges, "
            f"mean entropy {d['final_entropy']:.2f} nats"
        )
    child = payload.get("child")
    if child:
        console.print(
            f"  child with inherited weights: test accuracy {child['test_accuracy']:.2f}% "
            f"({child['params']:,} parameters)"
        )
    tuned = payload.get("finetune")
    if tuned:
        console.print(
            f"  fine-tuned {tuned['epochs']} epochs: [bold]test accuracy "
            f"{tuned['test_accuracy']:.2f}%[/] (valid {tuned['valid_accuracy']:.2f}%)"
        )
    looked_up = payload.get("benchmark")
    if looked_up:
        console.print(
            f"  NAS-Bench-201 (CIFAR-10, 200 epochs): test {looked_up['test_accuracy']:.2f}%, "
            f"valid {looked_up['valid_accuracy']:.2f}%, {looked_up['params_m']:.2f} M parameters"
        )
    if payload.get("model_dir"):
        console.print(f"  saved to {payload['model_dir']}")
    if payload.get("onnx"):
        from nasforge.cli.export import onnx_line

        console.print("  " + onnx_line(payload["onnx"]), markup=False, highlight=False)
    console.print(f"  retrain from scratch: {payload['retrain_command']}", soft_wrap=True)
