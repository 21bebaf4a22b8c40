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
import math
import os
import shlex
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
    TASKS,
    DataOption,
    DeviceOption,
    FineOption,
    GroupColumnOption,
    GroupPatternOption,
    ImageSizeOption,
    JsonOption,
    LabelPatternOption,
    LoaderWorkersOption,
    MaxLengthOption,
    OnnxOption,
    PrecisionOption,
    SkipBadFilesOption,
    SpaceOptions,
    SpectrogramImageOption,
    TestDataOption,
    TestPatternOption,
    TextColumnOption,
    parse_options,
    print_task_notes,
    stdout_console,
    text_task_options,
    user_errors,
)
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.data.task import Task
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.oneshot import MemoryEstimate, OneShotResult, SearchMonitor
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
SPACE_DEFAULTS: dict[str, dict[str, Any]] = {"nb201": {"channels": 8, "cells_per_stage": 1}}
"""Supernet settings that fit a CPU (NB201's own C=16, N=5 takes ~4 GB and 2.4 s a step)."""
CALIBRATION_EXAMPLES = 2048
"""Training images the child's BatchNorm statistics are recomputed on."""
BENCHMARK_COLUMNS = {
    "test_accuracy": "cifar10_test_acc",
    "valid_accuracy": "cifar10_valid_acc",
    "params_m": "params_m_cifar10",
}


@app.command(
    epilog="Departures from the papers: "
    + "; ".join(f"{name}: {text}" for name, text in METHOD_DEPARTURES.items())
    + "."
)
@user_errors
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
    task: Annotated[str, typer.Option(help=f"Task to search on: {TASKS}.")] = "digits",
    data: DataOption = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a csv task.")] = None,
    test_data: TestDataOption = None,
    text_column: TextColumnOption = None,
    fine: FineOption = False,
    max_length: MaxLengthOption = None,
    label_pattern: LabelPatternOption = None,
    test_pattern: TestPatternOption = None,
    spectrogram_image: SpectrogramImageOption = False,
    group_column: GroupColumnOption = None,
    group_pattern: GroupPatternOption = None,
    image_size: ImageSizeOption = None,
    loader_workers: LoaderWorkersOption = None,
    skip_bad_files: SkipBadFilesOption = False,
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

    device, precision = resolve_settings(device, precision)
    if method == "pc-darts" and partial_channels == 1:
        from nasforge.oneshot.pc_darts import DEFAULT_PARTIAL_CHANNELS

        partial_channels = DEFAULT_PARTIAL_CHANNELS
    _check_arguments(method, epochs, batch_size, memory_limit_mb, max_minutes, finetune_epochs)
    if out is not None and out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {out} exists and is not empty; choose another --out")
    if (out is not None or finetune_epochs > 0) and partial_channels > 1:
        raise ConfigError(
            f"--partial-channels {partial_channels} trains ops on 1/{partial_channels} of the "
            "channels, so the child cannot inherit them: drop --out and --finetune-epochs, "
            "or retrain the printed arch with 'nasforge train'"
        )
    if benchmark is not None and space != "nb201":
        raise ConfigError(f"--benchmark is NAS-Bench-201, which covers space nb201, not {space!r}")
    if name is not None:
        _check_name_free(store, name)
    if onnx:
        if out is None or partial_channels > 1:
            raise ConfigError("--onnx exports the saved child: it needs --out")
        from nasforge.export.onnx import require_onnx

        require_onnx()

    from nasforge.run.setup import task_space_params
    from nasforge.space import space_key

    task_options = text_task_options(
        task,
        test_data,
        text_column,
        fine,
        max_length,
        label_pattern,
        test_pattern,
        spectrogram_image,
        group_column,
        group_pattern,
        image_size,
        loader_workers,
        skip_bad_files,
    )
    params = {**SPACE_DEFAULTS.get(space, {}), **parse_options(space_option or [], "space option")}
    loaded = _load_task(task, data, label_column, task_options)
    print_task_notes(loaded)
    params = task_space_params(loaded, space, params)
    chosen_space = _make_space(space, params)

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

    space_name = space_key(chosen_space)
    payload = _summary(result, chosen_space, method, space_name, params, task, seconds)
    payload.update(child=None, finetune=None, model_dir=None)
    if partial_channels == 1:
        payload.update(
            _export(
                result,
                chosen_space,
                loaded,
                out=out,
                finetune_epochs=finetune_epochs,
                finetune_lr=finetune_lr,
                batch_size=batch_size,
                seed=seed,
                threads=threads,
                quiet=as_json,
                device=device,
                precision=precision,
            )
        )
    if table is not None:
        payload["benchmark"] = _lookup(table, chosen_space, result.arch)
    payload["retrain_command"] = _retrain_command(
        payload["arch"], task, data, space_name, params, task_options
    )
    if onnx and payload.get("model_dir"):
        from nasforge.export.onnx import export_beside

        payload["onnx"] = export_beside(payload["model_dir"], trust_space_code=True).to_dict()
    if name is not None:
        _record(store, name, result, payload, options, seed, chosen_space)
        payload["store"] = {"path": str(store), "name": name}
    if as_json:
        typer.echo(json.dumps(payload))
        return
    _print(payload)


# -- input --------------------------------------------------------------------------------


def _check_name_free(store: Path, name: str) -> None:
    from nasforge.run.storage import Store

    if not name.strip():
        raise ConfigError("--name is empty")
    with Store(store) as journal:
        if journal.get_experiment(name) is not None:
            raise ConfigError(
                f"experiment {name!r} already exists in {store}; choose another --name"
            )


def _record(
    store: Path,
    name: str,
    result: OneShotResult,
    payload: dict[str, Any],
    options: dict[str, Any],
    seed: int,
    space: SearchSpace,
) -> None:
    """Keep the run in the store: its diagnostics, and the found arch as its one trial."""
    from nasforge.run.oneshot_record import OBJECTIVE, record_oneshot
    from nasforge.run.storage import Store
    from nasforge.space.stored import space_config

    metrics: dict[str, float] = {OBJECTIVE: payload["supernet_valid_accuracy"]}
    if payload.get("child"):
        metrics["child_test_acc"] = payload["child"]["test_accuracy"]
        metrics["params"] = payload["child"]["params"]
    if payload.get("finetune"):
        metrics["finetuned_test_acc"] = payload["finetune"]["test_accuracy"]
    for key, value in (payload.get("benchmark") or {}).items():
        if key in BENCHMARK_COLUMNS and value is not None:
            metrics[f"nb201_{key}"] = float(value)
    with Store(store) as journal:
        record_oneshot(
            journal,
            name,
            arch=result.arch,
            space_config={**space_config(space), **payload["space"]},
            method=payload["method"],
            method_options=options,
            task=payload["task"],
            seed=seed,
            epochs=payload["epochs"],
            seconds=payload["seconds"],
            diagnostics=result.diagnostics,
            metrics=metrics,
            device=payload["device"],
            precision=payload["precision"],
        )


def _check_arguments(
    method: str,
    epochs: int,
    batch_size: int,
    memory_limit_mb: float | None,
    max_minutes: float | None,
    finetune_epochs: int,
) -> None:
    if method not in METHOD_NAMES:
        raise ConfigError(
            f"unknown one-shot method {method!r}; choose from {', '.join(METHOD_NAMES)}"
        )
    if epochs < 1 or batch_size < 1 or finetune_epochs < 0:
        raise ConfigError(
            f"--epochs and --batch-size must be >= 1 and --finetune-epochs >= 0, not "
            f"{epochs}, {batch_size} and {finetune_epochs}"
        )
    for name, value in (("--memory-limit-mb", memory_limit_mb), ("--max-minutes", max_minutes)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a number > 0, not {value}")


def _make_space(name: str, params: dict[str, Any]) -> SearchSpace:
    from nasforge.space import make_space

    return make_space(name, **params)


def _load_task(
    name: str, data: Path | None, label_column: str | None, task_options: dict[str, Any]
) -> Task:
    from nasforge.data.loaders import DATA_ENV, load_task

    where = str(data) if data is not None else os.environ.get(DATA_ENV)
    resolved = str(Path(where).expanduser().resolve()) if where else None
    options = {"label_column": label_column} if label_column else {}
    options.update(task_options)
    return load_task(name, resolved, seed=0, **options)


# -- progress -------------------------------------------------------------------------------


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


# -- results --------------------------------------------------------------------------------


def _summary(
    result: OneShotResult,
    space: SearchSpace,
    method: str,
    space_name: str,
    params: dict[str, Any],
    task: str,
    seconds: float,
) -> dict[str, Any]:
    d = result.diagnostics
    memory = result.memory
    return {
        "arch": space.format(result.arch),
        "arch_text": str(result.arch),
        "method": method,
        "not_searched": list(result.not_searched),
        "space": {"name": space_name, "params": params},
        "task": task,
        "epochs": result.report.epochs_run,
        "stopped": result.report.reason,
        "seconds": round(seconds, 3),
        "supernet_valid_accuracy": 100.0 * result.report.last_valid_accuracy,
        "device": result.report.device,
        "precision": result.report.precision,
        "latency_ms_predicted": result.latency_ms,
        "memory": {
            "batch_size": memory.batch_size,
            "total_bytes": memory.total_bytes,
            "tensor_bytes": memory.tensor_bytes,
            "text": str(memory),
        },
        "diagnostics": {
            "unit": d.unit,
            "final_skip_share": _number(d.skip_share[-1]) if d.points else None,
            "final_entropy": _number(d.mean_entropy[-1]) if d.points else None,
            "archs": [space.format(arch) for arch in d.archs],
            "skip_share": [_number(v) for v in d.skip_share],
            "entropy": [_number(v) for v in d.mean_entropy],
            "arch_loss": [_number(v) for v in d.arch_loss],
            "score": [_number(v) for v in d.score],
        },
    }


def _number(value: Any) -> float | None:
    """A float for JSON (NaN is not JSON: None)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _export(
    result: OneShotResult,
    space: SearchSpace,
    task: Task,
    *,
    out: Path | None,
    finetune_epochs: int,
    finetune_lr: float,
    batch_size: int,
    seed: int,
    threads: int | None,
    quiet: bool,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict[str, Any]:
    """The child with inherited weights: tested, optionally fine-tuned, optionally saved."""
    import dataclasses

    from nasforge.export import save_model
    from nasforge.measure import count_parameters
    from nasforge.training import TrainConfig, Trainer

    child = result.child(task.x_train[:CALIBRATION_EXAMPLES], batch_size=batch_size, seed=seed)
    tester = Trainer(TrainConfig(threads=threads, seed=seed, device=device, precision=precision))
    inherited = 100.0 * tester.evaluate(child, task.x_test, task.y_test)
    exported: dict[str, Any] = {
        "child": {"test_accuracy": inherited, "params": count_parameters(child)},
        "finetune": None,
        "model_dir": None,
    }
    metrics = {"test_accuracy": inherited, "params": float(count_parameters(child))}
    train_config: dict[str, Any] = {"inherited_from": "oneshot supernet"}
    if finetune_epochs > 0:
        config = TrainConfig(
            epochs=finetune_epochs,
            batch_size=batch_size,
            lr=finetune_lr,
            threads=threads,
            seed=seed,
            device=device,
            precision=precision,
        )
        if not quiet:
            Console(stderr=True).print(
                f"Fine-tuning the child with inherited weights for {finetune_epochs} epochs ..."
            )
        trainer = Trainer(config)
        report = trainer.fit(child, task)
        tuned = 100.0 * trainer.evaluate(child, task.x_test, task.y_test)
        exported["finetune"] = {
            "epochs": report.epochs_run,
            "test_accuracy": tuned,
            "valid_accuracy": 100.0 * report.last_valid_accuracy,
            "seconds": report.seconds,
        }
        metrics.update(
            test_accuracy=tuned,
            valid_accuracy=100.0 * report.last_valid_accuracy,
            epochs=float(report.epochs_run),
        )
        train_config = {**dataclasses.asdict(config), **train_config}
    if out is not None:
        folder = save_model(
            out,
            space=space,
            arch=result.arch,
            model=child,
            task=task,
            metrics=metrics,
            train_config=train_config,
            overwrite=True,
        )
        exported["model_dir"] = str(folder)
    return exported


def _lookup(table: NB201Table, space: SearchSpace, arch: Arch) -> dict[str, Any]:
    from nasforge.space.nb201 import NB201Space

    assert isinstance(space, NB201Space)  # checked with --benchmark
    text = space.to_nb201_string(arch)
    row = table.metrics(table.row_of(text))
    found = {name: row.get(column) for name, column in BENCHMARK_COLUMNS.items()}
    return {"table": str(table.path), "dataset": "cifar10", "epochs": 200, **found}


def _retrain_command(
    arch: str,
    task: str,
    data: Path | None,
    space: str,
    params: dict[str, Any],
    task_options: dict[str, Any],
) -> str:
    words = ["nasforge", "train", arch, "--task", task]
    if data is not None:
        words += ["--data", str(data)]
    flags = {"test_path": "--test-data", "text_column": "--text-column"}
    flags.update(
        max_length="--max-length", label_pattern="--label-pattern", test_pattern="--test-pattern"
    )
    for key, value in task_options.items():
        if key in ("fine", "as_image"):
            words.append("--fine" if key == "fine" else "--spectrogram-image")
        else:
            words += [flags[key], str(value)]
    if space != "nb201":
        words += ["--space", space]
    for key, value in params.items():
        words += ["-s", f"{key}={value}"]
    words += ["--out", "models/retrained"]
    return " ".join(shlex.quote(word) for word in words)


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
