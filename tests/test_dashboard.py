"""`nasforge dashboard`: routes, live versions, read-only access and bad input (the real
browser test is tests/test_dashboard_browser.py)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.evaluate.result import Result
from nasforge.report.dashboard import DashboardServer, make_dashboard
from nasforge.run.storage import Store
from report_checks import external_requests

runner = CliRunner()
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture
def store(tmp_path: Path, nb201_csv_path: Path) -> Path:
    path = tmp_path / "s.sqlite"
    result = runner.invoke(
        app,
        [
            "search",
            "--space",
            "nb201",
            "--benchmark",
            str(nb201_csv_path),
            "--budget",
            "30",
            "--store",
            str(path),
            "--name",
            "c10",
        ],
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def server(store: Path) -> Iterator[DashboardServer]:
    served = make_dashboard(store, port=0)
    thread = threading.Thread(target=served.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield served
    served.shutdown()
    served.server_close()
    thread.join()


def _get(server: DashboardServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_it_binds_the_loopback_address_by_default(server: DashboardServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_the_index_and_the_api_list_the_experiments(server: DashboardServer) -> None:
    status, page = _get(server, "/")
    assert status == 200 and 'href="/experiments/c10"' in page
    status, listed = _get(server, "/api/experiments")
    (row,) = json.loads(listed)
    assert row["name"] == "c10" and row["trials"] == 30 and row["budget"] == 30


def test_an_experiment_page_is_the_report_with_a_live_script(server: DashboardServer) -> None:
    status, page = _get(server, "/experiments/c10")
    assert status == 200
    assert 'id="leaderboard"' in page and 'id="trials"' in page
    assert "/version" in page and "setInterval" in page
    assert external_requests(page) == []
    status, fragment = _get(server, "/experiments/c10/sections")
    assert status == 200 and fragment.startswith('<section id="settings">')


def test_the_version_changes_when_a_trial_finishes(server: DashboardServer, store: Path) -> None:
    before = json.loads(_get(server, "/api/experiments/c10/version")[1])["version"]
    with Store(store) as journal:  # another process's search, in effect
        record = journal.experiment("c10")
        number, seq = journal.add_trial_numbered_here(record.id, ARCH, None, None)
        running = json.loads(_get(server, "/api/experiments/c10/version")[1])["version"]
        journal.finish_trial(record.id, number, Result(metrics={"valid_acc": 50.0}), 50.0, seq + 1)
    after = json.loads(_get(server, "/api/experiments/c10/version")[1])["version"]
    assert len({before, running, after}) == 3
    _, fragment = _get(server, "/experiments/c10/sections")
    assert f'<tr data-trial="{number}">' in fragment


def test_it_serves_nothing_else_and_never_writes(server: DashboardServer, store: Path) -> None:
    digest = hashlib.sha256(store.read_bytes()).hexdigest()
    assert _get(server, "/etc/passwd")[0] == 404
    assert _get(server, "/experiments/../../etc/passwd")[0] == 404
    assert _get(server, "/experiments/nope")[0] == 404
    request = urllib.request.Request(server.url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405
    for path in ("/", "/experiments/c10", "/experiments/c10/sections", "/api/experiments"):
        assert _get(server, path)[0] == 200
    assert hashlib.sha256(store.read_bytes()).hexdigest() == digest


def test_bad_input_is_one_line_and_exit_2(store: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("not a store")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            (["--store", str(bogus)], "not a nasforge store"),
            (["--store", str(tmp_path / "missing.sqlite")], "store not found"),
            (["--store", str(store), "--port", str(port)], f"port {port} on 127.0.0.1 is in use"),
            (["--store", str(store), "--host", "my-laptop"], "is not an IP address"),
            (["--store", str(store), "--port", "70000"], "between 0 and 65535"),
        ]
        for args, message in cases:
            result = runner.invoke(app, ["dashboard", *args])
            assert result.exit_code == 2, (args, result.output)
            assert message in result.output
            assert len(result.output.strip().splitlines()) == 1
