"""`nasforge report` and `nasforge dashboard`: a search as an HTML file and as a live page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasforge.cli.app import app
from nasforge.cli.common import user_errors
from nasforge.cli.options import DEFAULT_STORE, NameOption, StoreOption, opt
from nasforge.run.storage import Store

__all__ = ["app"]


@app.command()
@user_errors
def report(
    store: StoreOption = Path(DEFAULT_STORE),
    name: NameOption = None,
    out: Annotated[
        Path | None,
        opt("HTML file to write (default: NAME.html).", show_default=False),
    ] = None,
) -> None:
    """Write one self-contained HTML file (no network request) that shows an experiment:
    settings, best so far, leaderboard, the winner drawn, Pareto front, decision importance,
    learning curves, one-shot weights and every trial."""
    from nasforge.report.html import write_report

    with Store.existing(store) as journal:
        chosen = journal.pick_name(name)
        journal.experiment(chosen)
    written = write_report(store, chosen, out if out is not None else Path(f"{chosen}.html"))
    typer.echo(f"report of {chosen!r} written to {written}")


@app.command()
@user_errors
def dashboard(
    store: StoreOption = Path(DEFAULT_STORE),
    port: Annotated[int, opt("Port to serve on (0: a free one).")] = 8080,
    host: Annotated[
        str,
        opt("Address to bind: 127.0.0.1 serves this machine only."),
    ] = "127.0.0.1",
) -> None:
    """Serve a live, read-only view of a store in the browser: its experiments, their
    progress, and each one's report, updating while a search writes to the store."""
    from nasforge.report.dashboard import make_dashboard

    Store.existing(store).close()  # a missing store: the usual one-line error
    server = make_dashboard(store, host=host, port=port)
    typer.echo(f"nasforge dashboard of {store} on {server.url} (Ctrl-C stops it)")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
