"""Every command keeps its options: the live command tree against a committed snapshot.

For every command and sub-command of ``nasforge.cli.app`` the snapshot
(``tests/data/cli_help_snapshot.json``) holds the sorted names of its options (every
spelling, e.g. ``["--budget", "-b"]``) and arguments, and for each option its default and
whether it is a flag. A refactor of the CLI must leave it unchanged.

Only for a deliberate change of options: ``NASFORGE_UPDATE_HELP_SNAPSHOT=1 pytest
tests/test_cli_help_snapshot.py`` rewrites the snapshot from the live tree; review the diff
of the JSON file before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from nasforge.cli import app

SNAPSHOT = Path(__file__).parent / "data" / "cli_help_snapshot.json"
UPDATE_ENV = "NASFORGE_UPDATE_HELP_SNAPSHOT"


def _default(value: Any) -> Any:
    """A default as JSON can hold it (paths and other objects as their text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_default(item) for item in value]
    return str(value)


def _describe(command: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    arguments: list[str] = []
    for param in command.params:
        if param.param_type_name == "option":
            names = sorted([*param.opts, *param.secondary_opts])
            options[" ".join(names)] = {
                "names": names,
                "default": _default(param.default),
                "is_flag": bool(param.is_flag),
            }
        else:
            arguments.append(str(param.name))
    return {"options": dict(sorted(options.items())), "arguments": sorted(arguments)}


def command_tree() -> dict[str, Any]:
    """Each command's path (``"nasforge search"``) mapped to its options and arguments."""
    tree: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        # Typer carries its own copy of click: groups are known by their sub-commands
        tree[path] = _describe(command)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "nasforge")
    return tree


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"{path}: command gone")
        elif path not in old:
            lines.append(f"{path}: new command")
        else:
            for part in ("options", "arguments"):
                was, now = old[path][part], new[path][part]
                if part == "arguments":
                    if was != now:
                        lines.append(f"{path}: arguments {was} -> {now}")
                    continue
                for key in sorted(was.keys() | now.keys()):
                    if was.get(key) != now.get(key):
                        lines.append(f"{path} {key}: {was.get(key)} -> {now.get(key)}")
    return lines


def test_every_command_lists_the_same_options_as_the_snapshot() -> None:
    live = command_tree()
    if os.environ.get(UPDATE_ENV, "") not in ("", "0"):
        SNAPSHOT.write_text(json.dumps(live, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    differences = _differences(snapshot, live)
    assert not differences, "options differ from the snapshot:\n" + "\n".join(differences)


def test_the_comparison_names_a_changed_option() -> None:
    live = command_tree()
    changed = json.loads(json.dumps(live))
    search = changed["nasforge search"]["options"]
    key = next(iter(search))
    search[key]["default"] = "something else"
    del changed["nasforge describe"]
    found = _differences(live, changed)
    assert f"nasforge search {key}: " in found[1]
    assert found[0] == "nasforge describe: command gone"


HELP_ORDER = [
    "importance", "explain", "describe", "status", "best", "query", "export", "scale", "search",
    "resume", "train", "predict", "oneshot", "proxies", "report", "dashboard", "latency",
]  # fmt: skip
"""`nasforge --help`'s commands in the order they had before the CLI refactor (the modules of
`nasforge.cli` import each other in an order that keeps it)."""


def test_nasforge_help_lists_the_commands_in_the_same_order() -> None:
    assert list(typer.main.get_command(app).commands) == HELP_ORDER  # type: ignore[attr-defined]
