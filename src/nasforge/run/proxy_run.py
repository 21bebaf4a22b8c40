"""A zero-cost proxy run as ``nasforge proxies`` makes it: architectures of a space scored
with one or more proxies on one mini-batch (or none), ranked, written to CSV and correlated
with a NAS-Bench-201 column. `plan_proxies` checks everything and loads the batch; the plan's
`ProxyPlan.run` scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from nasforge.arch import Arch
    from nasforge.proxies.base import ProxyBatch
    from nasforge.space.base import SearchSpace

KNOWN_PROXIES = (
    "synflow",
    "jacov",
    "nwot",
    "snip",
    "grasp",
    "fisher",
    "grad_norm",
    "zen",
    "params",
    "flops",
)
"""The registered proxies, for --help (the registry, `nasforge.proxies.PROXIES`, imports
torch); a test holds them equal."""
DATA_FREE_PROXIES = ("synflow", "zen", "params", "flops")
DEFAULT_PROXY = "synflow"
DEFAULT_SAMPLE = 100
"""For --help (`nasforge.proxies.selection` draws the sample)."""
DEFAULT_METRIC = "cifar10_valid_acc"
ENSEMBLE = "ensemble"
"""The column of the average normalized rank of two or more proxies."""


@dataclass(frozen=True)
class ProxySettings:
    """What to score and how: ``nasforge proxies``'s options (None: the default)."""

    proxies: list[str] = field(default_factory=lambda: [DEFAULT_PROXY])
    sample: int | None = None
    all_archs: bool = False
    seed: int = 0
    batch_size: int = 64
    workers: int = 1
    threads: int = 1
    device: str = "auto"
    precision: str = "fp32"
    out: Path | None = None
    cache: Path | None = None
    benchmark: Path | None = None
    metric: str | None = None
    top: int = 10


@dataclass
class ProxyPlan:
    """The checked settings, the space, its batch and the architectures to score."""

    settings: ProxySettings
    space: SearchSpace
    batch: ProxyBatch
    task_spec: dict[str, Any] | None
    archs: list[Arch]
    targets: np.ndarray | None

    @property
    def description(self) -> str:
        return f"{len(self.archs)} {self.space.name} archs"

    def run(self, on_progress: Callable[[int, int], None] = lambda done, total: None) -> ProxyRun:
        """Score every architecture (each function once), rank, write --out and correlate."""
        from nasforge.proxies.cache import ScoreCache
        from nasforge.proxies.score_files import cache_context, write_scores_csv
        from nasforge.proxies.scoring import score_archs
        from nasforge.run.proxy_benchmark import rank_correlations

        s = self.settings
        context = cache_context(self.space, self.task_spec, self.batch, s.seed)
        if s.precision != "fp32":  # scores differ by precision (by device only in rounding)
            context += f"|{s.precision}"
        scores = score_archs(
            self.space,
            self.archs,
            s.proxies,
            self.batch,
            seed=s.seed,
            workers=s.workers,
            threads=s.threads,
            cache=ScoreCache(s.cache) if s.cache is not None else None,
            context=context,
            on_progress=on_progress,
            device=s.device,
            precision=s.precision,
        )
        columns = dict(scores.scores)
        if len(s.proxies) >= 2:
            from nasforge.proxies.ensemble import rank_average

            columns[ENSEMBLE] = rank_average(scores.scores)
        texts = [self.space.format(arch) for arch in self.archs]
        if s.out is not None:
            write_scores_csv(s.out, texts, columns)
        correlations = None
        if self.targets is not None:
            correlations = rank_correlations(columns, self.targets)
        return ProxyRun(self, texts, columns, correlations, scores.computed, scores.wall_seconds)


@dataclass
class ProxyRun:
    """The scores of a plan: one column per proxy (and the ensemble), one row per arch."""

    plan: ProxyPlan
    texts: list[str]
    columns: dict[str, np.ndarray]
    correlations: dict[str, dict[str, float | None]] | None
    computed: int
    wall_seconds: float

    @property
    def ranked_by(self) -> str:
        return ENSEMBLE if ENSEMBLE in self.columns else self.plan.settings.proxies[0]

    @property
    def metric(self) -> str:
        return self.plan.settings.metric or DEFAULT_METRIC

    def summary_line(self) -> str:
        s = self.plan.settings
        where = f"; scores written to {s.out}" if s.out is not None else ""
        return (
            f"Scored {len(self.texts)} architectures with {', '.join(s.proxies)} in "
            f"{self.wall_seconds:.1f} s ({self.computed} networks computed){where}"
        )

    def to_dict(self) -> dict[str, Any]:
        """What ``nasforge proxies --json`` prints (NaN and infinities as null)."""
        from nasforge.run.proxy_benchmark import finite
        from nasforge.space import space_key

        s, space = self.plan.settings, self.plan.space
        payload: dict[str, Any] = {
            "space": {"name": space_key(space), "params": space.config()},
            "task": self.plan.task_spec,
            "proxies": s.proxies,
            "seed": s.seed,
            "batch_size": self.plan.batch.size,
            "device": s.device,
            "precision": s.precision,
            "count": len(self.texts),
            "computed": self.computed,
            "wall_seconds": self.wall_seconds,
            "ranked_by": self.ranked_by,
            "out": None if s.out is None else str(s.out),
            "archs": [
                {"arch": text, "scores": {k: finite(v[i]) for k, v in self.columns.items()}}
                for i, text in enumerate(self.texts)
            ],
        }
        if self.correlations is not None:
            payload["benchmark"] = str(s.benchmark)
            payload["metric"] = self.metric
            payload["correlations"] = self.correlations
        return payload


def plan_proxies(
    space: str | None,
    space_params: dict[str, Any],
    task: str | None,
    data: Path | None,
    label_column: str | None,
    settings: ProxySettings,
    *,
    on_note: Callable[[str], None] = lambda line: None,
) -> ProxyPlan:
    """Check `settings`, load the task's batch (data-free without a task), build the space,
    draw the architectures and read the benchmark; the first network is tried on the batch,
    so that one that cannot take it fails before any scoring."""
    from nasforge.device import resolve_settings
    from nasforge.proxies.selection import check_counts
    from nasforge.run.proxy_setup import proxy_task

    device, precision = resolve_settings(settings.device, settings.precision)
    s = ProxySettings(**{**settings.__dict__, "device": device, "precision": precision})
    names = s.proxies
    check_counts(s.sample, s.all_archs, s.batch_size, s.workers, s.threads, s.top)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"--proxy {', '.join(repeated)} is given more than once")
    if s.metric is not None and s.benchmark is None:
        raise ConfigError("--metric needs --benchmark (the table whose column it names)")
    task_options = proxy_task(task, data, label_column)
    if s.out is not None and s.out.is_dir():
        raise ConfigError(f"--out {s.out} is a folder; give a CSV file name")

    import torch

    from nasforge.proxies.base import check_logits, check_proxy_names, seeded
    from nasforge.proxies.selection import choose_archs
    from nasforge.run.proxy_benchmark import benchmark_table, benchmark_values
    from nasforge.run.proxy_setup import proxy_space_and_batch

    torch.set_num_threads(s.threads)
    chosen, batch, task_spec = proxy_space_and_batch(
        space, space_params, task_options, batch_size=s.batch_size, seed=s.seed, on_note=on_note
    )
    check_proxy_names(names, batch)
    column = s.metric or DEFAULT_METRIC
    table = benchmark_table(s.benchmark, chosen, column) if s.benchmark is not None else None
    archs = choose_archs(chosen, s.sample, s.all_archs, s.seed)
    targets = benchmark_values(table, chosen, archs, column) if table is not None else None
    with seeded(s.seed):
        check_logits(chosen.build(archs[0], batch.input_shape, batch.num_classes), batch)
    return ProxyPlan(s, chosen, batch, task_spec, archs, targets)
