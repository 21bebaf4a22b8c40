"""Latency lookup tables: each block timed once per machine, summed to predict a network.

As ProxylessNAS and FBNet do: a space that can cut its networks into units (stem, blocks,
head, each with its input size; `nasforge.space.mobilenet.latency`) has every unit it
can hold timed once on this machine (batch 1, eval mode, median of repeats, at a given
thread count). The sum of an arch's units predicts its measured latency without building
it, in microseconds rather than the seconds a measurement takes: cheap enough to screen
every candidate of a search, and differentiable as an expectation in one-shot search.

A table is a JSON file that records the machine (CPU model, cores, torch version, thread
count, the device timed on and its GPU's name, the precision), the space (name, options,
and the version of its network code) and the input; it is refused on another machine, device
or precision, or for another space, one line saying which.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.arch import Arch
from nasforge.device import gpu_name, resolve_device
from nasforge.errors import ConfigError
from nasforge.measure.latency import measure_latency_ms
from nasforge.space.base import SearchSpace
from nasforge.space.loading import space_key
from nasforge.space.mobilenet.latency import all_latency_units, latency_units
from nasforge.space.mobilenet.space import MobileNetSpace

TABLE_FORMAT = 1
NETWORK_VERSION = {"mobilenet": 1}
"""Bumped when a space's network code changes what a unit computes: older tables are refused."""


MACHINE_KEYS = ("cpu", "cores", "machine", "torch", "threads", "device", "gpu", "precision")
OLD_TABLE = {"device": "cpu", "gpu": None, "precision": "fp32"}
"""What a table from before devices were recorded was timed on."""


def machine_fingerprint(
    threads: int, device: str = "cpu", precision: str = "fp32"
) -> dict[str, Any]:
    """What a table's timings depend on: the machine, the device (and its GPU's name) and
    the precision they were taken on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "torch": torch.__version__,
        "threads": threads,
        "device": device,
        "gpu": gpu_name(device),
        "precision": precision,
    }


@dataclass
class LatencyTable:
    machine: dict[str, Any]
    space: dict[str, Any]
    input_shape: tuple[int, ...]
    classes: int
    entries: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    offset: float = 0.0
    """Prediction = offset + scale * (sum of the units), fitted on whole networks."""
    calibration: list[tuple[float, float]] = field(default_factory=list)
    """(sum of units, measured) of the networks the fit saw."""
    seconds: float = 0.0
    """Time the build took."""

    def predict(self, space: SearchSpace, arch: Arch) -> float:
        """Predicted batch-1 latency of `arch` in milliseconds: the sum of its units."""
        return self.offset + self.scale * self.unit_sum(space, arch)

    def unit_sum(self, space: SearchSpace, arch: Arch) -> float:
        """The plain sum of the timed units of `arch` (ProxylessNAS's prediction)."""
        units = latency_units(_mobilenet(space), arch, self.input_shape, self.classes)
        try:
            return sum(self.entries[unit.key] for unit in units)
        except KeyError as exc:
            raise ConfigError(
                f"latency table has no entry {exc.args[0]}: it was built for other space "
                "options or input; build it again"
            ) from None

    def check_matches(self, space: SearchSpace, *, threads: int | None = None) -> None:
        """Refuse this table for another machine, space, space version or thread count."""
        recorded = {**OLD_TABLE, **self.machine}
        here = machine_fingerprint(
            recorded["threads"] if threads is None else threads,
            recorded["device"],
            recorded["precision"],
        )
        for key in MACHINE_KEYS:
            if recorded.get(key) != here[key]:
                raise ConfigError(
                    f"latency table was built on another machine ({key} {recorded.get(key)}"
                    f", here {here[key]}): build one here with 'nasforge latency build'"
                )
        wanted = space_identity(space)
        if self.space.get("name") != wanted["name"]:
            raise ConfigError(
                f"latency table is for space {self.space.get('name')!r}, not {wanted['name']!r}"
            )
        if self.space.get("version") != wanted["version"]:
            raise ConfigError(
                f"latency table is for version {self.space.get('version')} of the "
                f"{wanted['name']} network, this nasforge builds version {wanted['version']}: "
                "build it again"
            )
        if json.dumps(self.space.get("params"), sort_keys=True) != json.dumps(
            wanted["params"], sort_keys=True
        ):
            raise ConfigError(
                "latency table was built for other options of space "
                f"{wanted['name']!r}: build it again with the same -s options"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TABLE_FORMAT,
            "machine": self.machine,
            "space": self.space,
            "input_shape": list(self.input_shape),
            "classes": self.classes,
            "seconds": self.seconds,
            "scale": self.scale,
            "offset": self.offset,
            "calibration": [list(pair) for pair in self.calibration],
            "entries": self.entries,
        }

    def save(self, path: str | Path) -> None:
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        partial.replace(target)  # a crash never leaves half a table under the real name

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"no latency table at {str(file)!r}")
        try:
            data = json.loads(file.read_text())
            if data.get("format") != TABLE_FORMAT:
                raise ConfigError(
                    f"{file} is a latency table of format {data.get('format')}, not "
                    f"{TABLE_FORMAT}: build it again"
                )
            return cls(
                machine=dict(data["machine"]),
                space=dict(data["space"]),
                input_shape=tuple(int(v) for v in data["input_shape"]),
                classes=int(data["classes"]),
                entries={str(k): float(v) for k, v in data["entries"].items()},
                scale=float(data["scale"]),
                offset=float(data["offset"]),
                calibration=[(float(a), float(b)) for a, b in data["calibration"]],
                seconds=float(data.get("seconds", 0.0)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{file} is not a latency table: {type(exc).__name__}") from None


def space_identity(space: SearchSpace) -> dict[str, Any]:
    name = space_key(space)
    return {
        "name": name,
        "params": json.loads(json.dumps(space.config())),
        "version": NETWORK_VERSION.get(name),
    }


def build_latency_table(
    space: SearchSpace,
    input_shape: tuple[int, ...],
    classes: int,
    *,
    threads: int = 1,
    repeats: int = 10,
    warmup: int = 2,
    rounds: int = 3,
    calibration_networks: int = 10,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    device: str = "cpu",
    precision: str = "fp32",
) -> LatencyTable:
    """Time every unit `space` can hold at this input, at `threads` torch threads, on
    ``device`` (a GPU is timed with CUDA events) in ``precision``; the table records both.

    Each unit is timed in `rounds` passes over all units, `repeats` runs each; its entry is
    the least of those times. On a shared machine a disturbance lasts longer than one
    unit's runs and inflates all of them, median included; spreading a unit's runs over
    passes minutes apart and keeping the least gives the undisturbed time.

    A whole network runs slower than the sum of its units timed alone (its activations
    leave the cache between blocks; about 20% at 32x32 here), so the sum is calibrated:
    `calibration_networks` random archs (drawn with `seed`) are built and timed the same
    way, and ``offset + scale * sum`` is fitted to them by least squares."""
    from nasforge.space.mobilenet.net import unit_module

    mobilenet = _mobilenet(space)
    if threads < 1 or repeats < 1 or rounds < 1:
        raise ConfigError(
            f"threads, repeats and rounds must be >= 1, not {threads}, {repeats} and {rounds}"
        )
    units = all_latency_units(mobilenet, input_shape, classes)
    placed = resolve_device(device)
    table = LatencyTable(
        machine=machine_fingerprint(threads, str(placed), precision),
        space=space_identity(space),
        input_shape=tuple(input_shape),
        classes=classes,
    )
    previous = torch.get_num_threads()
    torch.set_flush_denormal(True)
    started = time.perf_counter()
    torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            done = 0
            for _ in range(rounds):
                for unit in units:
                    module = unit_module(unit, mobilenet).to(placed)
                    shape = (unit.in_channels, unit.size, unit.size)
                    ms = measure_latency_ms(
                        module,
                        shape,
                        repeats=repeats,
                        warmup=warmup,
                        statistic="min",
                        precision=precision,
                    )
                    table.entries[unit.key] = min(ms, table.entries.get(unit.key, ms))
                    done += 1
                    if on_progress is not None:
                        on_progress(done, rounds * len(units) + calibration_networks)
            _calibrate(table, mobilenet, calibration_networks, seed, rounds, repeats, warmup)
            if on_progress is not None:
                on_progress(done + calibration_networks, done + calibration_networks)
    finally:
        torch.set_num_threads(previous)
    table.seconds = time.perf_counter() - started
    return table


def measure_network_ms(
    space: SearchSpace,
    archs: list[Arch],
    input_shape: tuple[int, ...],
    classes: int,
    *,
    rounds: int = 3,
    repeats: int = 10,
    warmup: int = 3,
    device: str = "cpu",
    precision: str = "fp32",
) -> list[float]:
    """Batch-1 latency of whole networks as the table times its units: the least time over
    `rounds` passes over all of `archs`, `repeats` runs each (at the current threads), on
    ``device`` in ``precision``."""
    placed = resolve_device(device)
    best = [float("inf")] * len(archs)
    torch.set_flush_denormal(True)
    for _ in range(rounds):
        for i, arch in enumerate(archs):
            model = space.build(arch, input_shape, classes).to(placed)
            ms = measure_latency_ms(
                model,
                input_shape,
                repeats=repeats,
                warmup=warmup,
                statistic="min",
                precision=precision,
            )
            best[i] = min(best[i], ms)
    return best


def _calibrate(
    table: LatencyTable,
    space: MobileNetSpace,
    count: int,
    seed: int,
    rounds: int,
    repeats: int,
    warmup: int,
) -> None:
    if count < 1:
        return
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(count)]
    sums = [table.unit_sum(space, arch) for arch in archs]
    measured = measure_network_ms(
        space, archs, table.input_shape, table.classes, rounds=rounds, repeats=repeats,
        warmup=warmup, device=table.machine["device"], precision=table.machine["precision"],
    )  # fmt: skip
    table.calibration = list(zip(sums, measured, strict=True))
    table.scale, table.offset = calibration_fit(sums, measured)


def calibration_fit(sums: list[float], measured: list[float]) -> tuple[float, float]:
    """``(scale, offset)`` of ``measured ~ offset + scale * sums`` by least squares, with
    ``scale > 0`` and ``offset >= 0`` (a fixed overhead; a negative one, which a noisy fit
    of a few networks can give, would predict small networks below zero): else the line
    through the origin."""
    if len(sums) >= 3 and np.ptp(sums) > 0:
        scale, offset = np.polyfit(sums, measured, 1)
        if scale > 0 and offset >= 0:
            return float(scale), float(offset)
    x, y = np.asarray(sums, dtype=float), np.asarray(measured, dtype=float)
    return float(np.dot(x, y) / np.dot(x, x)), 0.0


def _mobilenet(space: SearchSpace) -> MobileNetSpace:
    if not isinstance(space, MobileNetSpace):
        raise ConfigError(
            f"space {space.name!r} has no latency lookup table: only 'mobilenet' is cut into "
            "timed blocks; measure its latency directly (nasforge describe)"
        )
    return space


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass(frozen=True)
class TableCheck:
    """How well a table predicts whole networks measured now."""

    predicted_ms: list[float]
    sum_ms: list[float]
    measured_ms: list[float]

    @property
    def spearman(self) -> float:
        from scipy.stats import spearmanr

        return float(spearmanr(self.predicted_ms, self.measured_ms)[0])

    @property
    def mape(self) -> float:
        return _mape(self.predicted_ms, self.measured_ms)

    @property
    def sum_mape(self) -> float:
        return _mape(self.sum_ms, self.measured_ms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "networks": len(self.measured_ms),
            "spearman": self.spearman,
            "mape": self.mape,
            "sum_mape": self.sum_mape,
            "predicted_ms": self.predicted_ms,
            "measured_ms": self.measured_ms,
        }


def check_table(
    table: LatencyTable, *, networks: int = 20, seed: int = 1, rounds: int = 3
) -> TableCheck:
    """Build `networks` random archs of the table's space, time them (`measure_network_ms`
    at the table's thread count) and compare with the table's predictions."""
    from nasforge.space import make_space
    from nasforge.space.loading import is_spec

    name = str(table.space.get("name"))
    if is_spec(name):  # a table is shared like a store: it never makes nasforge import code
        raise ConfigError(
            f"latency table names the space {name!r}, which is code to import; tables are "
            "checked for built-in spaces only"
        )
    space = make_space(name, **dict(table.space.get("params") or {}))
    table.check_matches(space)
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(networks)]
    previous = torch.get_num_threads()
    torch.set_num_threads(int(table.machine["threads"]))
    try:
        recorded = {**OLD_TABLE, **table.machine}
        measured = measure_network_ms(
            space,
            archs,
            table.input_shape,
            table.classes,
            rounds=rounds,
            device=recorded["device"],
            precision=recorded["precision"],
        )
    finally:
        torch.set_num_threads(previous)
    return TableCheck(
        predicted_ms=[table.predict(space, arch) for arch in archs],
        sum_ms=[table.unit_sum(space, arch) for arch in archs],
        measured_ms=measured,
    )


def _mape(predicted: list[float], measured: list[float]) -> float:
    p, m = np.asarray(predicted), np.asarray(measured)
    return float(np.mean(np.abs(p - m) / m))
