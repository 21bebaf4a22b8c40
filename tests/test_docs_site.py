"""The documentation site (mkdocs.yml) builds with ``mkdocs build --strict``, has a page for
every command and subcommand generated from its help (every option named), and an API
reference that shows every public class and function: what each package exports, and the
classes the guide's Python tour uses."""

from __future__ import annotations

import html
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from nasforge.cli import app

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = (
    "nasforge.analysis",
    "nasforge.data",
    "nasforge.evaluate",
    "nasforge.export",
    "nasforge.measure",
    "nasforge.oneshot",
    "nasforge.proxies",
    "nasforge.space",
    "nasforge.strategy",
    "nasforge.training",
)
"""Packages whose ``__all__`` the API reference shows whole."""

MORE = (
    "nasforge.arch.Arch",
    "nasforge.errors.NasforgeError",
    "nasforge.space.choices.Choices",
    "nasforge.space.define_by_run.ChoiceSpace",
    "nasforge.evaluate.training.TrainingEvaluator",
    "nasforge.evaluate.training.retrain",
    "nasforge.evaluate.proxy.ProxyEvaluator",
    "nasforge.run.experiment.Experiment",
    "nasforge.run.budget.Budget",
    "nasforge.objective.Objective",
    "nasforge.objective.Constraint",
    "nasforge.run.storage.Store",
    "nasforge.proxies.warm_start.zero_cost_seeds",
    "nasforge.pareto.hypervolume",
    "nasforge.testing.strategy_conformance.StrategySpec",
)
"""Public classes and functions outside those exports (full paths)."""

NEEDED = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [name for name in NEEDED if not _installed(name)]
    if missing:
        pytest.skip(f'the site needs {", ".join(missing)}: pip install "nasforge[docs]"')
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _commands() -> dict[str, Any]:
    """Every command, by the words that run it ("search", "latency build")."""
    found: dict[str, Any] = {}
    group: Any = typer.main.get_command(app)
    for name, command in group.commands.items():
        found[name] = command
        for sub, subcommand in (getattr(command, "commands", None) or {}).items():
            found[f"{name} {sub}"] = subcommand
    return found


@pytest.mark.slow
def test_every_command_has_a_page_with_its_help(site: Path) -> None:
    commands = _commands()
    assert {"search", "oneshot", "latency build"} <= set(commands)
    for words, command in commands.items():
        page = site / "commands" / words.split()[0] / "index.html"
        assert page.exists(), f"no page for nasforge {words}"
        text = html.unescape(page.read_text())
        assert f"Usage: nasforge {words} " in text, words
        for param in command.params:
            if getattr(param, "hidden", False) or param.param_type_name != "option":
                continue
            longest = max(param.opts, key=len)
            assert longest in text, f"nasforge {words}: {longest} is not on its page"
    index = html.unescape((site / "commands" / "index.html").read_text())
    assert all(f"nasforge {words.split()[0]}" in index for words in commands)


def _public() -> list[str]:
    """Full names of the public objects the reference must show: each exported name as the
    package shows it (or, where a submodule has the same name, where it is defined)."""
    names = list(MORE)
    for package in PACKAGES:
        module = importlib.import_module(package)
        names += [f"{package}.{name}" for name in module.__all__]
    return names


@pytest.mark.slow
def test_every_public_class_and_function_is_in_the_api_reference(site: Path) -> None:
    pages = "".join(page.read_text() for page in (site / "api").rglob("*.html"))
    missing = []
    for name in _public():
        package, _, short = name.rpartition(".")
        defined = getattr(importlib.import_module(package), short)
        where = f"{getattr(defined, '__module__', package)}.{short}"
        if f'id="{name}"' not in pages and f'id="{where}"' not in pages:
            missing.append(name)
    assert not missing, f"not in the API reference: {missing}"


def test_the_site_lists_every_page_in_docs() -> None:
    """Every page in docs/ is in mkdocs.yml's nav (the build warns otherwise, so a page left
    out fails CI; this says which one without building)."""
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")]
    assert pages and [p for p in pages if f" {p}" not in nav] == []
