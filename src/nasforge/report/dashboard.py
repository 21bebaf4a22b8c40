"""`serve_dashboard`: a live, read-only view of one store in the browser.

The standard library's threading HTTP server is enough here: the pages are the report's
(`nasforge.report.html`), a list of the store's experiments, and two small JSON endpoints
the pages poll every few seconds to swap in new sections when the store changes. No
third-party server, no websocket, nothing served but these routes:

- ``/``: the experiments of the store, with their progress;
- ``/experiments/NAME``: the report of one experiment, updating itself;
- ``/experiments/NAME/sections``: that report's sections (an HTML fragment);
- ``/api/experiments``: the list as JSON; ``/api/experiments/NAME/version``: what changes
  when a trial is added or finishes.

The store is opened read-only (SQLite ``mode=ro``) for every request: the dashboard never
writes it, and a search may write to it from another process meanwhile.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import threading
from collections.abc import Callable
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from nasforge.errors import ConfigError, NasforgeError
from nasforge.report.content import report_content
from nasforge.report.html import STYLE, render_report, render_sections
from nasforge.run.results import SearchResult
from nasforge.run.spec import objectives_of
from nasforge.run.storage import Store

POLL_MILLISECONDS = 2000

LIVE_SCRIPT = """
(function () {
  var name = %(name)s, version = %(version)s;
  var status = document.getElementById('live-status');
  function poll() {
    fetch('/api/experiments/' + encodeURIComponent(name) + '/version', {cache: 'no-store'})
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (d.version === version) { return; }
        return fetch('/experiments/' + encodeURIComponent(name) + '/sections',
                     {cache: 'no-store'})
          .then(function (r) { return r.text(); })
          .then(function (html) {
            document.getElementById('report').innerHTML = html;
            version = d.version;
            status.textContent = 'updated ' + new Date().toLocaleTimeString();
          });
      })
      .catch(function () { status.textContent = 'dashboard unreachable; retrying'; });
  }
  setInterval(poll, %(poll)d);
})();
"""

INDEX_SCRIPT = """
(function () {
  function poll() {
    fetch('/api/experiments', {cache: 'no-store'})
      .then(function (r) { return r.json(); })
      .then(function (list) {
        var body = document.getElementById('experiments-body');
        body.innerHTML = '';
        list.forEach(function (e) {
          var row = document.createElement('tr');
          var link = document.createElement('a');
          link.href = '/experiments/' + encodeURIComponent(e.name);
          link.textContent = e.name;
          var cells = [link, e.kind, e.trials + ' of ' + (e.budget || '?'), e.finished,
                       e.best === null ? '–' : e.best, e.objective];
          cells.forEach(function (c) {
            var td = document.createElement('td');
            if (c instanceof Node) { td.appendChild(c); } else { td.textContent = c; }
            row.appendChild(td);
          });
          body.appendChild(row);
        });
      })
      .catch(function () {});
  }
  setInterval(poll, %(poll)d);
})();
"""


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store_path: Path, host: str, port: int) -> None:
        self.store_path = store_path
        self._cache: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def sections(self, name: str) -> str:
        """The report sections of `name`, recomputed only when the store changed."""
        with Store(self.store_path, read_only=True) as store:
            version = experiment_version(store, name)
            key = (name, version)
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            html = render_sections(report_content(store, name))
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != name}
            self._cache[key] = html
        return html


def check_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"--host {host!r} is not an IP address; use 127.0.0.1 (this machine only) or "
            "0.0.0.0 (every interface)"
        ) from None
    return host


def make_dashboard(store_path: Path, host: str = "127.0.0.1", port: int = 8080) -> DashboardServer:
    """A dashboard server bound to ``host:port`` (port 0: a free one), not yet serving."""
    check_host(host)
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}")
    with Store(store_path, read_only=True):  # refuse a file that is not a store now
        pass
    try:
        return DashboardServer(store_path, host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use; choose another --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"--host {host} is not an address of this machine") from None
        raise


def experiment_version(store: Store, name: str) -> str:
    """Changes whenever a trial of `name` is added or finishes."""
    record = store.experiment(name)
    trials = store.trials(record.id)
    finished = sum(1 for t in trials if t.finished)
    return f"{len(trials)}-{finished}-{record.wall_seconds:.3f}"


def experiments_summary(store: Store) -> list[dict[str, Any]]:
    rows = []
    for record in store.experiments():
        trials = store.trials(record.id)
        objectives = objectives_of(record.config)
        result = SearchResult.from_trials(record.name, trials, record.wall_seconds, objectives)
        best = None if result.multi_objective or result.best is None else result.best
        budget = (record.config.get("budget") or {}).get("queries")
        rows.append(
            {
                "name": record.name,
                "kind": record.config.get("kind", "search"),
                "trials": result.usage.queries,
                "finished": sum(1 for t in trials if t.finished),
                "budget": budget,
                "best": None
                if best is None
                else round(best.metrics.get(objectives[0].metric, float("nan")), 4),
                "objective": ", ".join(f"{o.metric} ({o.direction})" for o in objectives),
            }
        )
    return rows


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "nasforge-dashboard"

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        routes: list[tuple[str, str, Callable[[str], None]]] = [
            ("/api/experiments/", "/version", self._version),
            ("/experiments/", "/sections", self._sections),
        ]
        try:
            if path == "/":
                self._index()
                return
            if path == "/api/experiments":
                with Store(self.server.store_path, read_only=True) as store:
                    self._send_json(experiments_summary(store))
                return
            for prefix, suffix, handler in routes:
                if (
                    path.startswith(prefix)
                    and path.endswith(suffix)
                    and len(path) > len(prefix + suffix)
                ):
                    handler(path[len(prefix) : -len(suffix)])
                    return
            if path.startswith("/experiments/") and "/" not in path[len("/experiments/") :]:
                self._page(path[len("/experiments/") :])
                return
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        except NasforgeError as exc:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", str(exc).encode())

    def do_POST(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"read-only")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _index(self) -> None:
        with Store(self.server.store_path, read_only=True) as store:
            rows = experiments_summary(store)
        body = "".join(
            f'<tr><td><a href="/experiments/{quote(r["name"])}">{escape(r["name"])}</a></td>'
            f"<td>{escape(r['kind'])}</td><td>{r['trials']} of {r['budget'] or '?'}</td>"
            f"<td>{r['finished']}</td><td>{'–' if r['best'] is None else r['best']}</td>"
            f"<td>{escape(r['objective'])}</td></tr>"
            for r in rows
        )
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>nasforge dashboard</title><style>{STYLE}</style></head><body>"
            f"<header><h1>nasforge dashboard</h1><p>{escape(str(self.server.store_path))}, "
            "read-only, live</p></header><main><section><h2>Experiments</h2>"
            "<table><thead><tr><th>experiment</th><th>kind</th><th>evaluated</th>"
            "<th>finished trials</th><th>best</th><th>objective</th></tr></thead>"
            f'<tbody id="experiments-body">{body}</tbody></table></section></main>'
            f"<script>{INDEX_SCRIPT % {'poll': POLL_MILLISECONDS}}</script></body></html>"
        )
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode())

    def _page(self, name: str) -> None:
        with Store(self.server.store_path, read_only=True) as store:
            version = experiment_version(store, name)
            content = report_content(store, name)
        script = LIVE_SCRIPT % {
            "name": json.dumps(name),
            "version": json.dumps(version),
            "poll": POLL_MILLISECONDS,
        }
        page = render_report(content, script=script).replace(
            "</header>",
            '<p><a href="/" style="color:#cfd8e3">all experiments</a> · live: '
            '<span id="live-status">watching the store</span></p></header>',
            1,
        )
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode())

    def _sections(self, name: str) -> None:
        html = self.server.sections(name)
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", html.encode())

    def _version(self, name: str) -> None:
        with Store(self.server.store_path, read_only=True) as store:
            self._send_json({"version": experiment_version(store, name)})

    def _send_json(self, payload: Any) -> None:
        self._send(HTTPStatus.OK, "application/json", json.dumps(payload).encode())

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request log on stderr would bury the URL."""
