"""The options that several commands share (``Annotated`` Typer options), `opt` that
declares one, and the registry names their help lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nasforge.evaluate.nb201_benchmark import DATASETS
from nasforge.space import SPACES
from nasforge.space.hyperparams import HYPERPARAMETERS
from nasforge.strategy import STRATEGIES

DEFAULT_STORE = "nasforge.sqlite"
SPACE_NAMES = ", ".join(SPACES)
"""The registered spaces, for --help."""
STRATEGY_NAMES = ", ".join(STRATEGIES)
"""The registered strategies, for --help."""
BENCHMARK_DATASETS = ", ".join(DATASETS)
"""The datasets of the NAS-Bench-201 table, for --help."""
HYPERPARAMETER_NAMES = ", ".join(HYPERPARAMETERS)
OWN_SPACE_HELP = (
    "Your own space: path/to/file.py:ClassName or package.module:ClassName (imports that code; "
    "see docs/spaces.md)."
)


def opt(help: str, *names: str, **settings: Any) -> Any:
    """A Typer option with this help, and its names and settings (metavar, show_default)."""
    return typer.Option(*names, help=help, **settings)


def as_search(help: str, *names: str) -> Any:
    """An option of ``nasforge resume`` whose default is what the search stored."""
    said = f"{help[:-1]}; " if help.endswith(")") else f"{help} ("
    return typer.Option(*names, help=f"{said}default: as the search).", show_default=False)


StoreOption = Annotated[Path, opt("SQLite file that journals every trial.", "--store")]
NameOption = Annotated[
    str | None, opt("Experiment name in the store (default: the only one there).", "--name")
]
JsonOption = Annotated[bool, opt("Print one JSON object on stdout.", "--json")]
OnnxOption = Annotated[
    bool,
    opt("Also write the saved model as MODEL_DIR/model.onnx, checked in onnxruntime (needs "
        "nasforge\\[onnx]).", "--onnx"),
]  # fmt: skip
TrustSpaceCodeOption = Annotated[
    bool,
    opt("Import the space code (your own space's .py file or module) that the store or model "
        "folder records: needed to rebuild networks of a user space; nothing is imported "
        "without it.", "--trust-space-code"),
]  # fmt: skip
MovedSpaceOption = Annotated[
    str | None,
    opt("Your own space's code, path/to/file.py:ClassName or package.module:ClassName, "
        "imported in place of the one the store or folder records (also where it has moved).",
        "--space", show_default=False),
]  # fmt: skip
SpaceOptions = Annotated[
    list[str] | None, opt("Space setting KEY=VALUE, e.g. channels=8.", "--space-option", "-s")
]
DeviceOption = Annotated[
    str,
    opt("Where networks run: auto (a GPU if torch sees one, else the CPU), cpu, cuda, cuda:N "
        "or mps.", "--device"),
]  # fmt: skip
PrecisionOption = Annotated[
    str,
    opt("Arithmetic: fp32, bf16, fp16 (training: with gradient scaling) or auto (bf16 or fp16 "
        "on a GPU, fp32 elsewhere).", "--precision"),
]  # fmt: skip
BenchmarkOption = Annotated[
    Path | None,
    opt("NAS-Bench-201 table (nb201.csv); default: $NASFORGE_NB201.", "--benchmark",
        show_default=False),
]  # fmt: skip
LabelColumnOption = Annotated[str | None, opt("Label column of a csv task.")]
ThreadsOption = Annotated[int | None, opt("Torch threads (default: torch's).")]
