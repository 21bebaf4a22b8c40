"""What every command shares: option types, input-error handling, parsing and output."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from nasforge.arch import Arch
from nasforge.data.loaders import TASK_NAMES
from nasforge.errors import ConfigError, NasforgeError, StoreError
from nasforge.evaluate.nb201_benchmark import DATASETS
from nasforge.space import SPACES
from nasforge.space.hyperparams import HYPERPARAMETERS
from nasforge.strategy import STRATEGIES

if TYPE_CHECKING:
    from nasforge.run.storage import Store

DEFAULT_STORE = "nasforge.sqlite"
DEFAULT_TRAIN_BUDGET = 100
DEFAULT_BENCHMARK_BUDGET = 200
SHOWN_METRICS = (
    "valid_acc",
    "test_acc",
    "accuracy",
    "supernet_valid_acc",
    "child_test_acc",
    "params",
    "latency_ms",
)
TASKS = ", ".join(TASK_NAMES)
"""The built-in tasks, for --help."""
SPACE_NAMES = ", ".join(SPACES)
"""The registered spaces, for --help."""
STRATEGY_NAMES = ", ".join(STRATEGIES)
"""The registered strategies, for --help."""
BENCHMARK_DATASETS = ", ".join(DATASETS)
"""The datasets of the NAS-Bench-201 table, for --help."""
F = TypeVar("F", bound=Callable[..., Any])

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
DataOption = Annotated[
    Path | None,
    typer.Option(
        help="Data file or folder for the task (default: $NASFORGE_DATA).", show_default=False
    ),
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


def user_errors(command: F) -> F:
    """Errors end a command with one line on stderr: a NasforgeError (bad input) with exit
    code 2; anything unexpected with exit code 1, naming what failed and how to see the
    traceback (``--debug``, which re-raises it)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NasforgeError as exc:
            typer.echo(f"nasforge: error: {one_line(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            typer.echo(interrupted_line(command.__name__, exc), err=True)
            raise typer.Exit(getattr(exc, "exit_code", EXIT_SIGINT)) from None
        except BrokenPipeError:
            quiet_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except Exception as exc:
            if debugging():
                raise
            typer.echo(unexpected_error_line(command.__name__, exc), err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


DEBUG_ENV = "NASFORGE_DEBUG"
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""What a shell reports for a program ended by SIGPIPE (``cat``, ``grep``), here when the
reader of stdout went away (``nasforge predict ... | head -3``)."""


def interrupted_line(command: str, exc: KeyboardInterrupt) -> str:
    """One line for a command stopped by SIGINT or SIGTERM: which, and how to go on."""
    from nasforge.run.signals import SearchInterrupted

    if isinstance(exc, SearchInterrupted):
        return (
            f"nasforge: {command} stopped by {signal.Signals(exc.signum).name}; finished trials "
            f"are in the store, and the interrupted ones run again with: {exc.resume_hint()}"
        )
    return (
        f"nasforge: {command} interrupted; finished trials are in the store "
        "('nasforge resume' continues a search)"
    )


def quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so that nothing more is written
    there, not even the flush at interpreter exit (as the Python docs advise for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (an in-process test runner)
        pass
    finally:
        os.close(devnull)


def one_line(text: str) -> str:
    """``text`` on one line: a message that quotes another (a user's space raising a
    multi-line error) keeps its lines, joined by " | "."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def debugging() -> bool:
    """True under ``--debug`` (or ``NASFORGE_DEBUG=1``): unexpected errors show a traceback."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def unexpected_error_line(command: str, exc: BaseException) -> str:
    """One line for an error nasforge did not expect: what failed, and where it was raised."""
    where = ""
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is not None:
        frame = trace.tb_frame
        where = f" at {Path(frame.f_code.co_filename).name}:{trace.tb_lineno}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"nasforge: unexpected error in '{command.replace('_', '-')}': "
        f"{type(exc).__name__}{': ' + text if text else ''}{where} "
        "(run it again with --debug for the traceback)"
    )


def print_best(payload: dict[str, Any]) -> None:
    console = stdout_console()
    best = payload["best"]
    if not best:
        console.print(f"No successful trial in {payload['name']!r} yet.")
        return
    if isinstance(best, list):
        pareto = payload["pareto"]
        console.print(
            f"[bold]Pareto front of {payload['name']}[/]: {pareto['size']} architectures over "
            f"{', '.join(payload['objectives'])}; hypervolume {pareto['hypervolume']:.4g} "
            f"(reference: the worst value of each objective, "
            f"{', '.join(f'{k} {v:.4g}' for k, v in (pareto['reference'] or {}).items())})"
        )
    else:
        console.print(
            f"[bold]Best of {payload['name']}[/] (trial {best['number']}): {best['arch']}"
        )
        metrics = best["metrics"]
        named = [text.rpartition(":")[0] for text in payload.get("objectives", [])]
        wanted = [*SHOWN_METRICS, *named, *payload.get("report", [])]
        shown = {k: metrics[k] for k in dict.fromkeys(wanted) if k in metrics}
        console.print("  " + ", ".join(f"{k} {metric_text(k, v)}" for k, v in shown.items()))
        if payload.get("picture"):
            console.print(payload["picture"], markup=False, highlight=False)
    if payload.get("note"):
        console.print(f"  ({payload['note']})")
    usage = payload["usage"]
    final = payload.get("final")
    for i, member in enumerate((final or {}).get("members") or [], start=1):
        console.print(
            f"  member {i}: {member['arch']}: test accuracy {member['test_accuracy']:.2f}% "
            f"(valid {member['valid_accuracy']:.2f}%)",
            markup=False,
            highlight=False,
        )
    if final:
        ensemble = f"{final['arch']}, " if final.get("members") else ""
        console.print(
            f"  retrained {final['epochs']} epochs: {ensemble}"
            f"[bold]test accuracy {final['test_accuracy']:.2f}%[/] "
            f"(valid {final['valid_accuracy']:.2f}%"
            f"{', its groups trained too' if final.get('valid_trained') else ''}), "
            f"saved to {final['model_dir']}",
            highlight=False,
        )
    baseline = payload.get("baseline") or (final or {}).get("baseline")
    if baseline:
        valid = baseline.get("valid_accuracy")
        console.print(
            f"  baseline {baseline.get('arch', '')}: "
            f"test accuracy {baseline['test_accuracy']:.2f}%"
            + (f" (valid {valid:.2f}%)" if valid is not None else ""),
            markup=False,
            highlight=False,
        )
    if final and final.get("loses_to_baseline"):
        console.print(f"  note: {final['loses_to_baseline']}", markup=False, highlight=False)
    console.print(
        f"  {payload['trials']} evaluated ({payload['proposals']} proposals), "
        f"evaluation cost {usage['simulated_seconds']:.0f} s, "
        f"{usage['wall_seconds']:.1f} s wall; "
        f"store {payload['store']}"
    )


def metric_text(name: str, value: float) -> str:
    return f"{value:,.0f}" if name in ("params", "flops") else f"{value:.2f}"


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr, hidden when stderr is not a terminal; yields the
    ``on_progress(done, total)`` callback that library functions take."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    stderr = Console(stderr=True)
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,
    ) as progress:
        task_id = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task_id, completed=done, total=total)


def parse_options(pairs: list[str], what: str = "strategy option") -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE in brackets is a JSON list (``kernels=[3,5]``)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r} must read KEY=VALUE")
        text = value.strip()
        if text.startswith("["):
            try:
                options[key.strip()] = json.loads(text)
            except ValueError:
                raise ConfigError(
                    f"{what} {pair!r}: {text!r} is not a list (write it as JSON: [3,5])"
                ) from None
            continue
        options[key.strip()] = Arch.parse(f"x={text}")["x"]
    return options


def parse_hyperparameters(pairs: list[str]) -> dict[str, list[Any]]:
    """``lr=0.01,0.1`` -> {"lr": [0.01, 0.1]}."""
    searched: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--hp {pair!r} must read NAME=VALUE,VALUE,...")
        searched[key.strip()] = [
            Arch.parse(f"x={value.strip()}")["x"] for value in values.split(",")
        ]
    return searched


def benchmark_path(given: Path | None) -> str | None:
    return str(given) if given is not None else os.environ.get("NASFORGE_NB201")


def fresh_name(journal: Store, base: str) -> str:
    candidate, counter = base, 2
    while journal.get_experiment(candidate) is not None:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


def open_existing(path: Path) -> Store:
    from nasforge.run.storage import Store

    if not path.exists():
        raise StoreError(f"store not found: {path}")
    return Store(path)


def pick_name(journal: Store, name: str | None) -> str:
    if name is not None:
        return name
    names = [record.name for record in journal.experiments()]
    if len(names) == 1:
        return names[0]
    if not names:
        raise StoreError(f"store {journal.path} holds no experiment")
    raise StoreError(
        f"store {journal.path} holds several experiments; pick one with --name: {', '.join(names)}"
    )


def space_of(config: dict[str, Any]) -> Any:
    """The space of a stored experiment, for reading: imports no code (`read_space`)."""
    from nasforge.space.stored import read_space

    try:
        return read_space(config["space"])
    except KeyError as exc:
        raise StoreError(f"experiment config lacks {exc}") from None


def stdout_console() -> Console:
    """A console for stdout; piped output gets room for whole NB201 strings on one line."""
    console = _StdoutConsole()
    return console if console.is_terminal else _StdoutConsole(width=200)


class _StdoutConsole(Console):
    """Rich's console, ending with exit status 141 (not 1) when stdout's reader has gone."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        quiet_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE)


TestDataOption = Annotated[
    Path | None,
    typer.Option(
        help="Text task: a file of test examples (else a stratified fifth of --data).",
        show_default=False,
    ),
]
TextColumnOption = Annotated[
    str | None,
    typer.Option(
        help="Text task: the text column of a csv/tsv file (default text).", show_default=False
    ),
]
FineOption = Annotated[
    bool,
    typer.Option("--fine", help="Text task in TREC lines: the 50 fine classes, not the 6 coarse."),
]
MaxLengthOption = Annotated[
    int | None,
    typer.Option(
        help="Text task: tokens kept per text (default: the longest, up to 256).",
        show_default=False,
    ),
]


def text_task_options(
    task: str,
    test_data: Path | None,
    text_column: str | None,
    fine: bool,
    max_length: int | None,
    label_pattern: str | None = None,
    test_pattern: str | None = None,
    as_image: bool = False,
    group_column: str | None = None,
    group_pattern: str | None = None,
    image_size: int | None = None,
    loader_workers: int | None = None,
    skip_bad_files: bool = False,
) -> dict[str, Any]:
    """The loader options of a text, audio or images task from its CLI options (an error if
    they are given for another task); the group options for csv, text, audio and images."""
    text = {
        "test_path": str(test_data.expanduser().resolve()) if test_data is not None else None,
        "text_column": text_column,
        "fine": fine or None,
        "max_length": max_length,
    }
    audio = {
        "label_pattern": label_pattern,
        "test_pattern": test_pattern,
        "as_image": as_image or None,
    }
    images = {
        "image_size": image_size,
        "loader_workers": loader_workers,
        "skip_bad_files": skip_bad_files or None,
    }
    names = {
        "image_size": "--image-size",
        "loader_workers": "--loader-workers",
        "skip_bad_files": "--skip-bad-files",
        "test_path": "--test-data",
        "text_column": "--text-column",
        "fine": "--fine",
        "max_length": "--max-length",
        "label_pattern": "--label-pattern",
        "test_pattern": "--test-pattern",
        "as_image": "--spectrogram-image",
    }
    for kind, given in (("text", text), ("audio", audio), ("images", images)):
        used = [names[key] for key, value in given.items() if value is not None]
        if used and task != kind:
            raise ConfigError(f"{', '.join(used)} apply to --task {kind}, not --task {task}")
    if group_column is not None and task not in ("csv", "text", "audio", "images"):
        raise ConfigError(
            f"--group-column applies to --task csv, text, audio or images, not {task}"
        )
    if group_pattern is not None and task not in ("audio", "images"):
        raise ConfigError(f"--group-pattern applies to --task audio or images, not --task {task}")
    groups = {"group_column": group_column, "group_pattern": group_pattern}
    chosen = {**text, **audio, **images, **groups}
    return {key: value for key, value in chosen.items() if value is not None}


LabelPatternOption = Annotated[
    str | None,
    typer.Option(
        help="Audio task: a regular expression whose first group is the label in a file's "
        "name (FSDD: '^(\\d)_').",
        show_default=False,
    ),
]
TestPatternOption = Annotated[
    str | None,
    typer.Option(
        help="Audio task: files whose name matches this regular expression are the test set "
        "(FSDD's usual split: '_[0-4]\\.wav$').",
        show_default=False,
    ),
]
SpectrogramImageOption = Annotated[
    bool,
    typer.Option(
        "--spectrogram-image",
        help="Audio task: one-channel images (1, bands, frames) for image spaces (mobilenet, "
        "nb201) instead of sequences for conv1d.",
    ),
]
ImageSizeOption = Annotated[
    int | None,
    typer.Option(
        help="Images task: the side in pixels that every image is resized to (default 32).",
        show_default=False,
    ),
]
LoaderWorkersOption = Annotated[
    int | None,
    typer.Option(
        help="Images task: processes that decode batches while the model trains (default 0: "
        "the training process decodes them).",
        show_default=False,
    ),
]
SkipBadFilesOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad-files",
        help="Images task: leave out image files that do not decode (with a note) instead "
        "of stopping.",
    ),
]


def print_task_notes(task: Any) -> None:
    """The notes of a loaded task (files left out, modes converted), one line each on
    stderr."""
    for note in getattr(task, "notes", ()):
        typer.echo(f"note: {note}", err=True)


GroupColumnOption = Annotated[
    str | None,
    typer.Option(
        help="csv, text table, audio or image manifest: the column naming each example's group (a "
        "speaker, a patient, a source); validation then takes whole groups, unseen in training.",
        show_default=False,
    ),
]
GroupPatternOption = Annotated[
    str | None,
    typer.Option(
        help="Audio or images task: a regular expression whose first group is the group in a "
        "file's name (FSDD's speaker: '^\\d_(\\[a-z]+)_'); validation then takes whole groups.",
        show_default=False,
    ),
]
