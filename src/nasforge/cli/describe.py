"""`nasforge describe`: one architecture of any space: canonical form, size, cost, picture."""

from __future__ import annotations

from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import print_payload, user_errors
from nasforge.cli.options import OWN_SPACE_HELP, SPACE_NAMES, JsonOption, SpaceOptions, opt
from nasforge.errors import ConfigError
from nasforge.run.setting_words import parse_input_shape, parse_options

__all__ = ["app"]


@app.command()
@user_errors
def describe(
    arch: Annotated[
        str, typer.Argument(help="The architecture: its text form or a published name.")
    ],
    space: Annotated[str, opt(f"Space of ARCH: {SPACE_NAMES}. {OWN_SPACE_HELP}")] = "nb201",
    space_option: SpaceOptions = None,
    input_shape: Annotated[
        str | None,
        opt(
            "Input shape C,H,W (or C,L, or F) without the batch axis (default: 3,32,32; "
            "conv1d 1,40; mlp 64).",
            show_default=False,
        ),
    ] = None,
    classes: Annotated[int, opt("Classes of the output layer.")] = 10,
    latency: Annotated[bool, opt("Measure batch-1 CPU latency (median of 20 runs).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Describe one architecture: canonical form, parameters (without an auxiliary head),
    multiply-adds, batch-1 CPU latency on this machine, and a picture of it."""
    from nasforge.measure.describe import describe_arch
    from nasforge.report.measure_text import described_lines
    from nasforge.report.text_picture import render_text
    from nasforge.space import make_space_for_arch
    from nasforge.space.guess import parse_or_hint

    if classes < 1:
        raise ConfigError(f"--classes must be >= 1, not {classes}")
    shape = parse_input_shape(input_shape) if input_shape is not None else None
    chosen = make_space_for_arch(space, arch, **parse_options(space_option or [], "space option"))
    parsed = parse_or_hint(chosen, space, arch)
    described = describe_arch(chosen, parsed, input_shape=shape, classes=classes, latency=latency)
    picture = render_text(described.pictures, parsed)
    payload = {**described.to_dict(), "picture": picture}
    print_payload(payload, as_json, lambda _: described_lines(described, picture))
