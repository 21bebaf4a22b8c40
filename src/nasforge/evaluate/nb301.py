"""NAS-Bench-301 through the YAHPO Gym v2 surrogate: a *prediction* for any DARTS genotype.

The benchmark folder (``shared/benchmarks/nb301_surrogate``) holds ``model_v2.onnx`` and
``encoding_v2.json``; its README gives the encoding this module implements: per cell, the op
on each of the 14 candidate edges (``#na#`` where unused) and, for nodes 3-5, the pair of
inputs, in yahpo_gym's column order, plus the epoch (1-98) as the one continuous input.

A query of the `darts` space's arch at budget ``epoch`` (default 98, NB301's last epoch)
returns ``valid_acc`` (percent) and ``valid_loss`` predicted at that epoch, ``runtime_s``
(predicted training time up to it, also the query's simulated cost) and
``seconds_per_epoch``. Every number is a surrogate prediction, not a measurement.

NAS-Bench-301 trained cells of 4 nodes over DARTS's 7 ops (no ``none``) whose two inputs
per node differ: any other genotype is refused with one line (the darts space's option
``distinct_inputs``, which the nb301 search sets, proposes only such cells). onnxruntime is imported
lazily (the ``nasforge[onnx]`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nasforge.arch import Arch
from nasforge.errors import ArchError, BenchmarkError, ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.space.darts.genotype import Genotype
from nasforge.space.darts.names import SEARCH_OPS
from nasforge.space.darts.space import DartsSpace

PREFIX = "NetworkSelectorDatasetInfo_COLON_darts_COLON_"
COLUMNS = (
    [f"edge_normal_{i}" for i in range(14)]
    + [f"edge_reduce_{i}" for i in range(14)]
    + [f"inputs_node_normal_{k}" for k in (3, 4, 5)]
    + [f"inputs_node_reduce_{k}" for k in (3, 4, 5)]
)
"""The order of the model's 34 categorical inputs (yahpo_gym's ``cat_names``)."""
EDGE_OFFSET = {2: 0, 3: 2, 4: 5, 5: 9}
EPOCHS = (1, 98)
NOTE = "NAS-Bench-301 values are surrogate predictions (YAHPO Gym v2), not measurements"


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "the NAS-Bench-301 surrogate needs onnxruntime: pip install 'nasforge[onnx]'"
        ) from None
    return onnxruntime


def nb301_config(genotype: Genotype) -> dict[str, str]:
    """The genotype as NB301's configuration (short names); ArchError for one it lacks."""
    if genotype.nodes != 4:
        raise ArchError(f"NAS-Bench-301 has cells of 4 nodes, not {genotype.nodes}")
    config: dict[str, str] = {}
    for cell, pairs in (("normal", genotype.normal), ("reduce", genotype.reduce)):
        for j in range(4):
            node = j + 2
            pair = pairs[2 * j : 2 * j + 2]
            inputs = [source for _, source in pair]
            if inputs[0] == inputs[1]:
                raise ArchError(
                    f"NAS-Bench-301 needs two different inputs per node: node {node} of the "
                    f"{cell} cell takes input {inputs[0]} twice"
                )
            for op, source in pair:
                if op not in SEARCH_OPS:
                    raise ArchError(
                        f"op {op!r} is not one of NAS-Bench-301's 7 ops ({', '.join(SEARCH_OPS)})"
                    )
                config[f"edge_{cell}_{EDGE_OFFSET[node] + source}"] = op
            if node > 2:
                config[f"inputs_node_{cell}_{node}"] = "_".join(map(str, sorted(inputs)))
    return config


class NB301Surrogate(Evaluator):
    """Query the NAS-Bench-301 surrogate; the budget is the epoch (1-98)."""

    name = "nb301"
    note = NOTE

    def __init__(
        self, path: str | Path, *, fidelity: int = 98, space: DartsSpace | None = None
    ) -> None:
        folder = Path(path).expanduser()
        model, encoding = folder / "model_v2.onnx", folder / "encoding_v2.json"
        for file in (model, encoding):
            if not file.is_file():
                raise BenchmarkError(f"NAS-Bench-301 surrogate file not found: {file}")
        self.path = folder.resolve()
        self.fidelity = _epoch(fidelity)
        self.default_budget = float(self.fidelity)
        self.space = space or DartsSpace(distinct_inputs=True)
        check_space(self.space)
        try:
            self.encoding: dict[str, dict[str, int]] = json.loads(encoding.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BenchmarkError(f"cannot read {encoding}: {exc}") from None
        onnxruntime = require_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "fidelity": self.fidelity, "space": self.space}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], fidelity=state["fidelity"], space=state["space"])  # type: ignore[misc]

    def config(self) -> dict[str, Any]:
        return {"path": str(self.path), "fidelity": self.fidelity}

    def metric_names(self) -> frozenset[str]:
        return frozenset({"valid_acc", "valid_loss", "runtime_s", "seconds_per_epoch", "epochs"})

    def encode(self, genotype: Genotype) -> list[int]:
        config = nb301_config(genotype)
        return [self.encoding[PREFIX + name][config.get(name, "#na#")] for name in COLUMNS]

    def predict(self, genotypes: list[Genotype], epoch: float = 98) -> np.ndarray:
        """Rows of (val_accuracy 0-1, val_cross_entropy, runtime s, s per epoch)."""
        x_cat = np.asarray([self.encode(g) for g in genotypes], dtype=np.int32)
        x_cont = np.full((len(genotypes), 1), float(_epoch(epoch)), dtype=np.float32)
        output = self.session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
        return np.asarray(output, dtype=np.float64)

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        epoch = self.fidelity if budget is None else _epoch(budget)
        try:
            genotype = self.space.to_genotype(self.space.validate(arch))
            accuracy, loss, runtime, per_epoch = self.predict([genotype], epoch)[0]
        except ArchError as exc:
            return Result.failed(str(exc))
        metrics = {
            "valid_acc": 100.0 * float(accuracy),
            "valid_loss": float(loss),
            "runtime_s": float(runtime),
            "seconds_per_epoch": float(per_epoch),
            "epochs": float(epoch),
        }
        return Result(metrics=metrics, cost=max(0.0, float(runtime)))


def check_space(space: object) -> None:
    """NB301 covers the darts space of 4 nodes over the 7 DARTS ops, concatenating all."""
    if not isinstance(space, DartsSpace):
        name = getattr(space, "name", type(space).__name__)
        raise ConfigError(f"the NAS-Bench-301 surrogate covers space 'darts' only, not {name!r}")
    if space.nodes != 4 or space.ops_name != "darts" or space.concat != "all":
        raise ConfigError(
            "the NAS-Bench-301 surrogate covers the darts space with its defaults nodes=4, "
            f"ops=darts, concat=all, not nodes={space.nodes}, ops={space.ops_name}, "
            f"concat={space.concat}"
        )


def _epoch(value: float) -> int:
    epoch = int(value)
    if epoch != value or not EPOCHS[0] <= epoch <= EPOCHS[1]:
        raise BenchmarkError(f"NAS-Bench-301 fidelity is an epoch from 1 to 98, not {value}")
    return epoch
