"""MkDocs hook: one page per ``nasforge`` command, generated at build time from the CLI's own
``--help`` (so the pages never drift from the code), listed under "Commands" in the nav.

A command group (``nasforge latency``) gets one page: the group's help, then each of its
commands' help. The pages are never written to ``docs/``; they exist only in the build.
"""

from __future__ import annotations

from typing import Any

import typer.main
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from typer.testing import CliRunner

from nasforge.cli import app

SECTION = "Commands"
FOLDER = "commands"
WIDTH = 100


def command_tree() -> dict[str, list[str]]:
    """Every top-level command, with the commands of a group (empty for a plain command)."""
    group: Any = typer.main.get_command(app)
    return {
        name: sorted(getattr(command, "commands", None) or [])
        for name, command in sorted(group.commands.items())
    }


def page_path(name: str) -> str:
    return f"{FOLDER}/{name}.md"


def help_text(*words: str) -> str:
    """What ``nasforge WORDS --help`` prints, at a fixed width."""
    result = CliRunner().invoke(
        app, [*words, "--help"], env={"COLUMNS": str(WIDTH)}, terminal_width=WIDTH
    )
    if result.exit_code != 0:
        raise RuntimeError(f"nasforge {' '.join(words)} --help exited {result.exit_code}")
    return "\n".join(line.rstrip() for line in result.stdout.strip().splitlines())


def page(name: str, subcommands: list[str]) -> str:
    parts = [
        f"# nasforge {name}",
        "",
        f"Generated from `nasforge {name} --help` when this site was built.",
        "",
        "```text",
        help_text(name),
        "```",
    ]
    for sub in subcommands:
        parts += ["", f"## nasforge {name} {sub}", "", "```text", help_text(name, sub), "```"]
    return "\n".join(parts) + "\n"


def index(tree: dict[str, list[str]]) -> str:
    lines = [
        "# Commands",
        "",
        "Every `nasforge` command, each with the help it prints (`nasforge COMMAND --help`),",
        "generated from the CLI when this site was built. Add `--debug` to any command to see",
        "the traceback of an unexpected error.",
        "",
        "```text",
        help_text(),
        "```",
        "",
    ]
    for name, subcommands in tree.items():
        also = f" ({', '.join(subcommands)})" if subcommands else ""
        lines.append(f"- [`nasforge {name}`]({name}.md){also}")
    return "\n".join(lines) + "\n"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Insert the command pages into the nav, before the API reference if there is one."""
    tree = command_tree()
    entry = {
        SECTION: [{"Overview": f"{FOLDER}/index.md"}] + [{name: page_path(name)} for name in tree]
    }
    nav: list[Any] = list(config.nav or [])
    titles = [next(iter(item)) if isinstance(item, dict) else None for item in nav]
    where = titles.index("API reference") if "API reference" in titles else len(nav)
    nav.insert(where, entry)
    config.nav = nav
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    tree = command_tree()
    files.append(File.generated(config, f"{FOLDER}/index.md", content=index(tree)))
    for name, subcommands in tree.items():
        files.append(File.generated(config, page_path(name), content=page(name, subcommands)))
    return files
