"""One architecture looked up in a benchmark, as ``nasforge query`` does it: a NAS-Bench-201
string in the table, or a DARTS genotype predicted by the NAS-Bench-301 surrogate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nasforge.errors import ConfigError


def query_nb201(text: str, table: Path | None, *, dataset: str, fidelity: int) -> dict[str, Any]:
    """The arch (an nb201 string), its canonical form, its table row and metrics; `table`
    None: ``$NASFORGE_NB201``."""
    from nasforge.evaluate import NB201Benchmark
    from nasforge.space import NB201Space
    from nasforge.space.guess import parse_or_hint

    space = NB201Space()
    parsed = parse_or_hint(
        space,
        space.name,
        text,
        advice=f"the NAS-Bench-201 table holds nb201 archs only (nasforge describe '{text}' "
        "{flags} describes it)",
    )
    path = str(table) if table is not None else os.environ.get("NASFORGE_NB201")
    evaluator = NB201Benchmark.from_csv(path, dataset=dataset, fidelity=fidelity)
    return {
        "arch": space.format(parsed),
        "canonical": space.format(space.canonical(parsed)),
        "row": evaluator.row(parsed),
        "metrics": evaluator.evaluate(parsed).metrics,
    }


def query_nb301(text: str, folder: Path | None, *, epoch: int) -> dict[str, Any]:
    """The genotype's validation accuracy, loss and training time at `epoch` as the
    surrogate in `folder` predicts them."""
    from nasforge.evaluate.nb301 import NB301Surrogate
    from nasforge.space.darts import DartsSpace

    if folder is None:
        raise ConfigError("--evaluator nb301 needs --benchmark DIR: the surrogate's folder")
    space = DartsSpace(distinct_inputs=True)
    parsed = space.parse(text)
    surrogate = NB301Surrogate(folder, fidelity=epoch, space=space)
    accuracy, loss, runtime, per_epoch = surrogate.predict([space.to_genotype(parsed)], epoch)[0]
    return {
        "arch": space.format(parsed),
        "epoch": epoch,
        "prediction": {
            "valid_acc": 100.0 * float(accuracy),
            "valid_loss": float(loss),
            "runtime_s": float(runtime),
            "seconds_per_epoch": float(per_epoch),
        },
        "note": surrogate.note,
    }
