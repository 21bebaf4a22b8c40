"""A one-shot search as ``nasforge oneshot`` makes it: the task loaded, the space built, the
supernet trained by a method, the found child tested (and fine-tuned, saved, exported), the
arch looked up in NAS-Bench-201 and the run kept in a store. `plan_oneshot` checks the
settings and loads everything before any training; `OneshotPlan.run` trains and returns
the summary ``nasforge oneshot --json`` prints."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.data.task_options import TaskOptions
from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.data.task import Task
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.oneshot import SearchMonitor
    from nasforge.oneshot.method import OneShotMethod
    from nasforge.space.base import SearchSpace

METHOD_NAMES = ("darts", "darts2", "gdas", "enas", "spos", "beta-darts", "pc-darts")
"""The methods, for --help (the registry, `nasforge.oneshot.METHODS`, imports torch)."""
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


@dataclass
class OneshotSettings:
    """How to search and what to keep: ``nasforge oneshot``'s options."""

    method: str = "darts"
    space: str = "nb201"
    space_params: dict[str, Any] = field(default_factory=dict)
    method_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0
    partial_channels: int = 1
    memory_limit_mb: float | None = None
    max_minutes: float | None = None
    threads: int | None = None
    device: str = "auto"
    precision: str = "auto"
    benchmark: Path | None = None
    out: Path | None = None
    finetune_epochs: int = 0
    finetune_lr: float = 0.01
    name: str | None = None
    store: Path = Path("nasforge.sqlite")
    latency_table: Path | None = None
    latency_target: float | None = None
    latency_weight: float = 0.5
    onnx: bool = False


@dataclass
class OneshotPlan:
    """The checked settings, the loaded task, the space (with its parameters), the method
    and the NAS-Bench-201 table to look the result up in."""

    settings: OneshotSettings
    task_options: TaskOptions
    task: Task
    space: SearchSpace
    params: dict[str, Any]
    searcher: OneShotMethod
    table: NB201Table | None

    def run(
        self, monitor: SearchMonitor, *, on_line: Callable[[str], None] = lambda line: None
    ) -> dict[str, Any]:
        """Train the supernet (`monitor` hears each epoch), then test, save and record the
        child; `on_line` hears the fine-tuning's progress."""
        from nasforge.export.oneshot_child import export_child
        from nasforge.oneshot.summary import benchmark_lookup, retrain_command, run_summary
        from nasforge.space import space_key

        s = self.settings
        started = time.perf_counter()
        result = self.searcher.search(
            self.task,
            epochs=s.epochs,
            batch_size=s.batch_size,
            seed=s.seed,
            threads=s.threads,
            memory_limit=None if s.memory_limit_mb is None else s.memory_limit_mb * 1024**2,
            max_seconds=None if s.max_minutes is None else 60.0 * s.max_minutes,
            monitor=monitor,
            device=s.device,
            precision=s.precision,
        )
        seconds = time.perf_counter() - started
        space_name = space_key(self.space)
        payload = run_summary(
            result, self.space, s.method, space_name, self.params, self.task_options.name, seconds
        )
        payload.update(child=None, finetune=None, model_dir=None)
        if s.partial_channels == 1:
            payload.update(
                export_child(
                    result,
                    self.space,
                    self.task,
                    out=s.out,
                    finetune_epochs=s.finetune_epochs,
                    finetune_lr=s.finetune_lr,
                    batch_size=s.batch_size,
                    seed=s.seed,
                    threads=s.threads,
                    device=s.device,
                    precision=s.precision,
                    on_line=on_line,
                )
            )
        if self.table is not None:
            payload["benchmark"] = benchmark_lookup(self.table, self.space, result.arch)
        payload["retrain_command"] = retrain_command(
            payload["arch"], self.task_options, space_name, self.params
        )
        if s.onnx and payload.get("model_dir"):
            from nasforge.export.onnx import export_beside

            payload["onnx"] = export_beside(payload["model_dir"], trust_space_code=True).to_dict()
        if s.name is not None:
            from nasforge.run.oneshot_record import record_summary
            from nasforge.space.stored import space_config

            record_summary(
                s.store,
                s.name,
                payload,
                arch=result.arch,
                space_config=space_config(self.space),
                method_options=method_options(s),
                seed=s.seed,
                diagnostics=result.diagnostics,
            )
            payload["store"] = {"path": str(s.store), "name": s.name}
        return payload


def plan_oneshot(
    settings: OneshotSettings,
    task_options: TaskOptions,
    *,
    on_note: Callable[[str], None] = lambda line: None,
) -> OneshotPlan:
    """Check `settings` (refusing what the run could not give before anything loads), load
    the task (`on_note` hears its notes), build the space and the method."""
    from nasforge.device import resolve_settings
    from nasforge.oneshot.run_checks import check_run_outputs, check_run_settings
    from nasforge.run.oneshot_record import check_name_free

    s = settings
    s.device, s.precision = resolve_settings(s.device, s.precision)
    if s.method == "pc-darts" and s.partial_channels == 1:
        from nasforge.oneshot.pc_darts import DEFAULT_PARTIAL_CHANNELS

        s.partial_channels = DEFAULT_PARTIAL_CHANNELS
    check_run_settings(
        s.method, s.epochs, s.batch_size, s.memory_limit_mb, s.max_minutes, s.finetune_epochs
    )
    check_run_outputs(
        out=s.out,
        finetune_epochs=s.finetune_epochs,
        partial_channels=s.partial_channels,
        benchmark=s.benchmark,
        space=s.space,
        onnx=s.onnx,
    )
    if s.name is not None:
        check_name_free(s.store, s.name)
    if s.onnx:
        if s.out is None or s.partial_channels > 1:
            raise ConfigError("--onnx exports the saved child: it needs --out")
        from nasforge.export.onnx import require_onnx

        require_onnx()
    if (s.latency_table is None) != (s.latency_target is None):
        raise ConfigError("--latency-table and --latency-target go together")

    from nasforge.data.task_options import build_task
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.oneshot import make_method
    from nasforge.oneshot.method import require_op_choices
    from nasforge.run.setup import TRAIN_SPACE_DEFAULTS, task_space_params
    from nasforge.space import make_space

    task_options.loader_options()  # wrong options for the task: refused before loading
    params = {**TRAIN_SPACE_DEFAULTS.get(s.space, {}), **s.space_params}
    loaded = build_task(task_options)
    for note in getattr(loaded, "notes", ()):
        on_note(note)
    params = task_space_params(loaded, s.space, params)
    chosen = make_space(s.space, **params)
    require_op_choices(chosen)
    table = NB201Table.from_csv(s.benchmark) if s.benchmark is not None else None
    chosen.check_input(loaded.input_shape)
    latency: dict[str, Any] = {}
    if s.latency_table is not None:
        from nasforge.measure.latency_table import LatencyTable

        latency = {
            "latency_table": LatencyTable.load(s.latency_table),
            "latency_target": s.latency_target,
            "latency_weight": s.latency_weight,
        }
    searcher = make_method(s.method, chosen, **method_options(s), **latency)
    return OneshotPlan(s, task_options, loaded, chosen, params, searcher, table)


def method_options(settings: OneshotSettings) -> dict[str, Any]:
    """The method's options as given (with --partial-channels), as the store keeps them."""
    options = dict(settings.method_options)
    if settings.partial_channels != 1:
        options["partial_channels"] = settings.partial_channels
    return options
