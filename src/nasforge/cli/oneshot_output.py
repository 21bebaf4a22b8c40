"""What `nasforge oneshot` shows: the methods in its help, a progress bar while the supernet
trains, and the summary of the found architecture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

from nasforge.cli.common import stdout_console

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.oneshot import MemoryEstimate, SearchMonitor
    from nasforge.space.base import SearchSpace
    from nasforge.training import EpochMetrics


@contextmanager
def progress(
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


def print_summary(payload: dict[str, Any]) -> None:
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
