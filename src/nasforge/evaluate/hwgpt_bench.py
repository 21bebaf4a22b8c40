"""HW-GPT-Bench (Sukthanker et al., NeurIPS 2024) as a table with a known layout.

The benchmark folder holds ``hw_gpt_bench/hwgpt_{s,m,l}.csv``: GPT-2 sub-networks of three
supernets with perplexity and accuracy (measured with weights *inherited from the trained
supernet*, not standalone training), parameters, FLOPs, and latency and energy on 8 GPUs and
6 CPUs (see that folder's README). The decisions are the embedding width ``embed_dim``, the
number of layers ``n_layer``, each layer's heads ``head_i`` and MLP ratio ``mlp_i`` (empty,
so inactive, for layers beyond ``n_layer``) and ``bias``.
"""

from __future__ import annotations

from pathlib import Path

from nasforge.errors import BenchmarkError

MAX_LAYERS = {"hwgpt-s": 12, "hwgpt-m": 24, "hwgpt-l": 36}
"""The deepest network of each space (its `head_i`/`mlp_i` columns run to this)."""
FOLDER = "hw_gpt_bench"
HWGPT_OBJECTIVE = "perplexity"


def is_hwgpt(name: object) -> bool:
    return str(name) in MAX_LAYERS


def hwgpt_decisions(name: str) -> list[str]:
    depth = MAX_LAYERS[name]
    return [
        "embed_dim",
        "n_layer",
        *(f"head_{i}" for i in range(depth)),
        *(f"mlp_{i}" for i in range(depth)),
        "bias",
    ]


def hwgpt_layout(name: str, directory: str | Path | None) -> tuple[Path, list[str]]:
    """The CSV of space `name` under the benchmarks folder `directory`, and its decision
    columns."""
    if name not in MAX_LAYERS:
        raise BenchmarkError(
            f"unknown HW-GPT-Bench space {name!r}; choose from {', '.join(MAX_LAYERS)}"
        )
    if directory is None:
        raise BenchmarkError(
            f"--benchmark {name} reads {FOLDER}/hwgpt_{name[-1]}.csv under the benchmarks "
            "folder: pass --benchmark-dir DIR or set NASFORGE_BENCHMARKS"
        )
    base = Path(directory).expanduser()
    file = base / FOLDER / f"hwgpt_{name[-1]}.csv"
    if not file.is_file() and (base / file.name).is_file():
        file = base / file.name  # the HW-GPT-Bench folder itself
    if not file.is_file():
        raise BenchmarkError(f"HW-GPT-Bench table not found: {file}")
    return file, hwgpt_decisions(name)
