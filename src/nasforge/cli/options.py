"""The option types that several commands share (``Annotated`` Typer options), and the
registry names their help lists."""

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


def opt(help: str, *names: str, **settings: Any) -> Any:
    """A Typer option with this help, and its names and settings (metavar, show_default)."""
    return typer.Option(*names, help=help, **settings)


def as_search(help: str, *names: str) -> Any:
    """An option of ``nasforge resume`` whose default is what the search stored."""
    said = (
        f"{help[:-1]}; default: as the search)"
        if help.endswith(")")
        else f"{help} (default: as the search)"
    )
    return typer.Option(*names, help=f"{said}.", show_default=False)


StoreOption = Annotated[
    Path, typer.Option("--store", help="SQLite file that journals every trial.")
]
OnnxOption = Annotated[
    bool,
    typer.Option(
        "--onnx",
        help="Also write the saved model as MODEL_DIR/model.onnx, checked in onnxruntime "
        "(needs nasforge\\[onnx]).",
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option("--name", help="Experiment name in the store (default: the only one there)."),
]
OWN_SPACE_HELP = (
    "Your own space: path/to/file.py:ClassName or package.module:ClassName (imports that code; "
    "see docs/spaces.md)."
)
TrustSpaceCodeOption = Annotated[
    bool,
    typer.Option(
        "--trust-space-code",
        help="Import the space code (your own space's .py file or module) that the store or "
        "model folder records: needed to rebuild networks of a user space; nothing is "
        "imported without it.",
    ),
]
MovedSpaceOption = Annotated[
    str | None,
    typer.Option(
        "--space",
        help="Your own space's code, path/to/file.py:ClassName or package.module:ClassName, "
        "imported in place of the one the store or folder records (also where it has moved).",
        show_default=False,
    ),
]
SpaceOptions = Annotated[
    list[str] | None,
    typer.Option("--space-option", "-s", help="Space setting KEY=VALUE, e.g. channels=8."),
]
HyperparameterOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--hp",
        help=f"Search a hyperparameter too: lr=0.01,0.1 ({', '.join(HYPERPARAMETERS)}).",
    ),
]
FinalEpochsOption = Annotated[
    int, typer.Option(help="Epochs to retrain the winner (0: do not retrain).")
]
WinnerFolderOption = Annotated[
    Path | None, typer.Option(help="Folder for the retrained winner (default: models/NAME).")
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Evaluations at once (default: one per core when candidates are trained, else 1). "
        "A seed repeats its trials with any number (unless --unordered).",
        show_default=False,
    ),
]
ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor", help="Where trials run: local (processes here) or ray (a Ray cluster)."
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join, HOST:PORT (default: start a local Ray instance).",
        show_default=False,
    ),
]
DeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        help="Where networks run: auto (a GPU if torch sees one, else the CPU), cpu, cuda, "
        "cuda:N or mps.",
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Arithmetic: fp32, bf16, fp16 (training: with gradient scaling) or auto (bf16 or "
        "fp16 on a GPU, fp32 elsewhere).",
    ),
]
GpusPerTrialOption = Annotated[
    float,
    typer.Option(
        "--gpus-per-trial",
        help="With --executor ray: GPUs Ray reserves for each trial (fractions share one, "
        "e.g. 0.5); trials then train on cuda.",
    ),
]
TopOption = Annotated[int, typer.Option(help="Rows in the leaderboard.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
BenchmarkOption = Annotated[
    Path | None,
    typer.Option(
        "--benchmark",
        help="NAS-Bench-201 table (nb201.csv); default: $NASFORGE_NB201.",
        show_default=False,
    ),
]
LabelColumnOption = Annotated[str | None, opt("Label column of a csv task.")]
ThreadsOption = Annotated[int | None, opt("Torch threads (default: torch's).")]
