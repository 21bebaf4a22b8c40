"""A network's measurements as lines of text: an architecture described (size, cost,
picture), a latency table built or checked; what ``nasforge describe`` and ``nasforge
latency`` print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:
    from nasforge.measure.describe import ArchDescription
    from nasforge.measure.latency_table import LatencyTable, TableCheck


def described_lines(described: ArchDescription, picture: str) -> list[Text]:
    """The architecture and its space, its canonical form (where it differs), input,
    classes, parameters, multiply-adds and latency, then its `picture`."""
    lines = [Text.assemble((described.arch, "bold"), f" (space {described.space})")]
    if described.canonical != described.arch:
        lines.append(Text(f"  canonical form: {described.canonical}"))
    auxiliary = ""
    if described.auxiliary_params:
        auxiliary = f" (+{described.auxiliary_params:,} in the auxiliary head)"
    latency = ""
    if described.latency_ms is not None:
        latency = (
            f"; latency {described.latency_ms:.3g} ms at batch 1 ({described.threads} threads)"
        )
    shape = described.input_shape
    resized = described.resolution is not None and described.resolution != shape[1]
    counted_at = f" resized to {described.resolution}x{described.resolution}" if resized else ""
    lines.append(
        Text(
            f"  input {','.join(map(str, shape))}{counted_at}, {described.classes} classes: "
            f"{described.params:,} parameters{auxiliary}, {described.flops:,} multiply-adds"
            f"{latency}"
        )
    )
    return [*lines, Text(picture)]


def latency_table_line(table: LatencyTable, out: Path, device: str, precision: str) -> str:
    """A table built: its blocks, file, time, settings and calibration."""
    return (
        f"latency table of {len(table.entries)} blocks written to {out} in {table.seconds:.0f} s "
        f"({table.machine['threads']} thread(s), {device}, {precision}); "
        f"prediction = {table.offset:+.3f} ms + {table.scale:.3f} x sum"
    )


def latency_check_line(check: TableCheck, table: LatencyTable) -> str:
    """A table checked against measured networks: rank correlation and errors."""
    return (
        f"{len(check.measured_ms)} networks: Spearman {check.spearman:.3f}, mean absolute "
        f"percentage error {check.mape:.1%} (plain sum of blocks: {check.sum_mape:.1%}); "
        f"measured {min(check.measured_ms):.2f}-{max(check.measured_ms):.2f} ms at "
        f"{table.machine['threads']} thread(s)"
    )


def query_lines(payload: dict[str, Any], *, dataset: str, fidelity: int) -> list[Text]:
    """A benchmark lookup (`nasforge.run.benchmark_query`): the NAS-Bench-201 row and its
    accuracies, or the NAS-Bench-301 surrogate's prediction."""
    if "prediction" in payload:
        p = payload["prediction"]
        return [
            Text(payload["arch"], "bold"),
            Text(
                f"  valid_acc {p['valid_acc']:.2f}% at epoch {payload['epoch']} (surrogate "
                f"prediction), valid_loss {p['valid_loss']:.4f}, training time "
                f"{p['runtime_s']:.0f} s (surrogate prediction)"
            ),
        ]
    return [
        Text.assemble((payload["arch"], "bold"), f" (row {payload['row']})"),
        Text(f"same function as {payload['canonical']}"),
        *(
            Text(f"  {key:>10}: {payload['metrics'][key]:.2f}  ({fidelity} epochs, {dataset})")
            for key in ("valid_acc", "test_acc")
        ),
    ]
