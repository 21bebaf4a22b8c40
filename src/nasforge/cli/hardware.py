"""`nasforge latency build|check|predict`: latency lookup tables for the mobilenet space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import DeviceOption, JsonOption, PrecisionOption, SpaceOptions, opt
from nasforge.cli.task_options import DataOption
from nasforge.errors import ConfigError
from nasforge.report.progress import progress_bar
from nasforge.run.setting_words import parse_coefficients, parse_input_shape, parse_options

__all__ = ["app", "latency_app"]

latency_app = typer.Typer(
    help="Latency lookup tables: every block of the mobilenet space timed once on this "
    "machine, summed (and calibrated) to predict a network's batch-1 latency.",
    no_args_is_help=True,
)
app.add_typer(latency_app, name="latency")

TableOption = Annotated[Path, opt("The latency table (JSON).", "--table")]


@latency_app.command("build")
@user_errors
def build(
    space: Annotated[str, opt("The space (mobilenet).")] = "mobilenet",
    space_option: SpaceOptions = None,
    input_shape: Annotated[str, opt("Input shape C,H,W.")] = "3,32,32",
    classes: Annotated[int, opt("Classes of the output layer.")] = 10,
    threads: Annotated[int, opt("Torch threads to time at.")] = 1,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "fp32",
    repeats: Annotated[int, opt("Runs of each block per round.")] = 10,
    rounds: Annotated[int, opt("Passes over all blocks; least time kept.")] = 3,
    calibration: Annotated[
        int, opt("Whole networks timed to calibrate the sum (0: plain sum).")
    ] = 10,
    out: Annotated[Path, opt("Where to write the table.")] = Path("latency_table.json"),
) -> None:
    """Time every block the space can hold at this input on --device, and save the table
    (it records the device and precision; check and searches refuse it elsewhere)."""
    from nasforge.device import resolve_settings
    from nasforge.measure.latency_table import build_latency_table
    from nasforge.report.measure_text import latency_table_line
    from nasforge.space import make_space

    device, precision = resolve_settings(device, precision)
    if classes < 1:
        raise ConfigError(f"--classes must be >= 1, not {classes}")
    chosen = make_space(space, **parse_options(space_option or [], "space option"))
    shape = parse_input_shape(input_shape)
    with progress_bar("timing blocks") as on_progress:
        table = build_latency_table(
            chosen, shape, classes, threads=threads, repeats=repeats, rounds=rounds,
            calibration_networks=calibration, on_progress=on_progress, device=device,
            precision=precision,
        )  # fmt: skip
    table.save(out)
    typer.echo(latency_table_line(table, out, device, precision))


@latency_app.command("check")
@user_errors
def check(
    table: TableOption = Path("latency_table.json"),
    networks: Annotated[int, opt("Random networks to measure.")] = 20,
    seed: Annotated[int, opt("Seed of the networks drawn.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Measure random networks of the table's space and compare with its predictions."""
    from nasforge.measure.latency_table import LatencyTable, check_table
    from nasforge.report.measure_text import latency_check_line

    loaded = LatencyTable.load(table)
    if networks < 2:
        raise ConfigError(f"--networks must be >= 2, not {networks}")
    report = check_table(loaded, networks=networks, seed=seed)
    print_payload(report.to_dict(), as_json, lambda _: [latency_check_line(report, loaded)])


@latency_app.command("predict")
@user_errors
def predict(
    arch: Annotated[str, typer.Argument(help="The architecture: text form or published name.")],
    table: TableOption = Path("latency_table.json"),
    space: Annotated[str, opt("The space of ARCH.")] = "mobilenet",
    space_option: SpaceOptions = None,
) -> None:
    """Predict ARCH's batch-1 latency from the table (no network is built)."""
    from nasforge.measure.latency_table import LatencyTable
    from nasforge.space import make_space

    loaded = LatencyTable.load(table)
    chosen = make_space(space, **parse_options(space_option or [], "space option"))
    loaded.check_matches(chosen)
    typer.echo(f"{loaded.predict(chosen, chosen.parse(arch)):.3f}")


@app.command()
@user_errors
def scale(
    arch: Annotated[
        str, typer.Argument(help="Base architecture of the mobilenet space (text or name).")
    ] = "efficientnet-b0",
    task: Annotated[str, opt("Task to train on.")] = "digits",
    data: DataOption = None,
    space_option: SpaceOptions = None,
    epochs: Annotated[int, opt("Training epochs of every point.")] = 3,
    lr: Annotated[float, opt("Learning rate.")] = 0.05,
    batch_size: Annotated[int, opt("Batch size.")] = 64,
    phi: Annotated[list[int] | None, opt("Compound coefficients to scale by (repeatable).")] = None,
    coefficients: Annotated[
        str | None,
        opt(
            "alpha,beta,gamma to scale with, skipping the grid search (the paper's: 1.2,1.1,1.15)."
        ),
    ] = None,
    grid_points: Annotated[
        int, opt("Grid points (alpha, beta, gamma) to train, closest to 2 first.")
    ] = 4,
    tolerance: Annotated[
        float, opt("Grid points keep |alpha * beta^2 * gamma^2 - 2| <= this.")
    ] = 0.1,
    seed: Annotated[int, opt("Training seed.")] = 0,
    threads: Annotated[int | None, opt("Torch threads for training.")] = None,
    as_json: JsonOption = False,
) -> None:
    """EfficientNet's compound scaling on a task: a grid search over (alpha, beta, gamma)
    at phi=1, then the base network scaled by each phi; accuracy, parameters, multiply-adds
    and latency of every point."""
    from nasforge.run.compound_scaling import scale_on_task

    report = scale_on_task(
        arch, parse_options(space_option or [], "space option"), task, data,
        coefficients=parse_coefficients(coefficients) if coefficients is not None else None,
        grid_points=grid_points, tolerance=tolerance, phis=phi or [1, 2, 3],
        on_point=None if as_json else lambda point: typer.echo(point.summary(), err=True),
        epochs=epochs, lr=lr, batch_size=batch_size, threads=threads, seed=seed,
    )  # fmt: skip
    print_payload(report.to_dict(), as_json, lambda _: report.summary())
