"""The HTML report of one experiment: one self-contained file (no network request).

`render_report` makes the page from `ReportContent`; `write_report` reads a store and writes
the file. The dashboard (`nasforge.report.dashboard`) serves the same sections
(`render_sections`) and swaps them in place when the store changes.
"""

from __future__ import annotations

import datetime
from html import escape
from pathlib import Path

from nasforge.errors import ConfigError
from nasforge.report.content import ReportContent, report_content
from nasforge.report.html_figures import (
    architecture_section,
    curves_section,
    importance_section,
    oneshot_section,
    pareto_section,
)
from nasforge.report.html_tables import (
    all_trials_section,
    final_section,
    leaderboard_section,
    progress_section,
    settings_section,
)
from nasforge.run.storage import Store

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#243447;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#cfd8e3}
main{padding:8px 24px 40px;max-width:1200px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:16px 0;
padding:12px 16px}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:14px 0 6px;word-break:break-all}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e6ebf0}
table.numeric td:nth-child(n+4),table.numeric th:nth-child(n+4){text-align:right;
font-variant-numeric:tabular-nums}
.arch{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;
word-break:break-all}td.arch{min-width:360px}.wide{overflow-x:auto}
.note{color:#666;font-size:13px}.warn{color:#a33}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart-title{font-size:13px;font-weight:600}.tick,.legend,.point-label{font-size:11px}
.axis-label{font-size:12px}.grid{stroke:#eee}.plot-area{fill:none;stroke:#ccc}
.node{fill:#f3f5f7;stroke:#243447;stroke-width:1.5}.node-label{font-size:12px}
.edge-label{font-size:11px;font-weight:600}.block-title{font-size:11px;font-weight:600}
.block-field{font-size:11px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px;margin:0}
dt{color:#555}dd{margin:0}
"""

SORT_SCRIPT = """
document.addEventListener('click', function (event) {
  var th = event.target.closest('table.sortable th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0];
  var column = Array.prototype.indexOf.call(th.parentNode.children, th);
  var ascending = th.getAttribute('data-order') !== 'asc';
  Array.prototype.forEach.call(th.parentNode.children, function (h) {
    h.removeAttribute('data-order');
  });
  th.setAttribute('data-order', ascending ? 'asc' : 'desc');
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[column].getAttribute('data-value') || a.cells[column].textContent;
    var y = b.cells[column].getAttribute('data-value') || b.cells[column].textContent;
    var nx = parseFloat(x.replace(/,/g, '')), ny = parseFloat(y.replace(/,/g, ''));
    var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return ascending ? order : -order;
  });
  rows.forEach(function (row) { body.appendChild(row); });
});
"""


def write_report(store_path: Path, name: str, out: Path) -> Path:
    """Write the report of experiment `name` of the store at `store_path` to `out`."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as report.html")
    if not out.parent.exists():
        raise ConfigError(f"cannot write {out}: folder {out.parent} does not exist")
    with Store(store_path, read_only=True) as store:
        content = report_content(store, name)
    out.write_text(render_report(content), encoding="utf-8")
    return out


def render_report(content: ReportContent, *, script: str = "") -> str:
    """The whole page. `script` (the dashboard's live update) is added inline."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nasforge report: {escape(content.name)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f'{render_header(content)}<main id="report">{render_sections(content)}</main>'
        f"<script>{SORT_SCRIPT}{script}</script></body></html>\n"
    )


def render_header(content: ReportContent) -> str:
    created = datetime.datetime.fromtimestamp(content.experiment.created_at).strftime(
        "%Y-%m-%d %H:%M"
    )
    return (
        f"<header><h1>{escape(content.name)}</h1><p>nasforge experiment in "
        f"{escape(content.store)}, created {created}</p></header>"
    )


def render_sections(content: ReportContent) -> str:
    """Every section that applies to this experiment, in reading order."""
    if content.oneshot:  # one supernet, one found arch: no search curve or importance
        sections = [
            settings_section(content),
            leaderboard_section(content),
            architecture_section(content),
            oneshot_section(content),
            all_trials_section(content),
        ]
    else:
        sections = [
            settings_section(content),
            final_section(content),
            progress_section(content),
            leaderboard_section(content),
            architecture_section(content),
            pareto_section(content),
            importance_section(content),
            curves_section(content),
            all_trials_section(content),
        ]
    return "".join(s for s in sections if s)
