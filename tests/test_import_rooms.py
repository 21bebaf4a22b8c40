"""No import runs back up the house: a room only imports rooms on its own floor or below.

Every module under src/nasforge is parsed with `ast`; every import counts, at module level,
inside functions (lazy imports of torch-heavy code) and under ``if TYPE_CHECKING:`` (a type
an annotation names is still a dependency that a reader and mypy follow up the house).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# The floors, lowest first. A room is a sub-package of nasforge or a module at its top.
# Rooms on one floor may import each other; a room may import any room on a lower floor.
FLOORS: list[tuple[str, ...]] = [
    ("errors",),  # the exception types every room raises (ConfigError, StoreError, ...)
    ("pareto",),  # dominance, sorting and hypervolume over score vectors
    ("arch",),  # Arch: the architecture value every room stores and compares
    ("device",),  # choosing a device and a precision at the edge
    ("status",),  # Status: how a trial or a training run ended
    ("objective",),  # Objective and Constraint: which metrics a search wants, within limits
    ("data",),  # Tasks: datasets, their splits, shapes, metrics and loaders
    ("space",),  # search spaces: decisions, encodings, building children and supernets
    ("strategy",),  # ask/tell strategies: numbers and decisions only
    ("measure",),  # parameters, multiply-adds and latency of a network
    ("training",),  # the Trainer: the one training loop and its hooks
    ("proxies",),  # zero-cost proxies scoring an untrained network
    ("evaluate",),  # evaluators: one arch at one budget -> Result
    ("oneshot",),  # supernet methods (DARTS, GDAS, ENAS, SPOS, ...) as Trainer hooks
    ("export",),  # a model folder: arch, weights, ONNX, preprocessing; ensembles
    ("run",),  # Experiment: the ask/submit/tell loop, storage, executors, resume
    ("analysis",),  # reading stored trials: decision importance, explanations, surrogates
    ("report",),  # what people look at: console tables, SVG, HTML report, dashboard
    ("testing",),  # conformance suites other packages' tests run (strategies)
    ("cli",),  # the Typer commands: parse, call the library, print
    ("__init__",),  # the package root (imports nothing today)
]

FLOOR_OF = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}

# Inside space/: the mechanism (its top-level modules and these sub-packages) is shared by the
# families (every other sub-package: nb201, darts, mobilenet, text, sequence, table). A family
# imports the mechanism and never another family; the mechanism imports no family, except the
# registry (space/__init__.py), which names them all.
SPACE_MECHANISM_PACKAGES = ("choices",)


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "nasforge":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            return [node.module or ""]
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = package[: len(package) - (node.level - 1)]
        return [".".join(base + ([node.module] if node.module else []))]
    return []


def upward_imports(src: Path) -> list[str]:
    """Every import from a lower room to a higher one under `src`/nasforge, as text lines."""
    found = []
    for path in sorted((src / "nasforge").rglob("*.py")):
        module = _module_name(path, src)
        room = _room(module)
        assert room is not None
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py"):
                other = _room(target)
                if other is None or other == room:
                    continue
                if FLOOR_OF[other] > FLOOR_OF[room]:
                    where = path.relative_to(src)
                    found.append(f"{where}:{node.lineno}: {room} imports {target} ({other})")
    return found


def _space_family(module: str, families: set[str]) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["nasforge", "space"] or len(parts) < 3:
        return None
    return parts[2] if parts[2] in families else None


def space_family_imports(src: Path) -> list[str]:
    """Every import inside `src`/nasforge/space that breaks the family rule, as text lines."""
    space = src / "nasforge" / "space"
    families = {
        p.name
        for p in space.iterdir()
        if (p / "__init__.py").is_file() and p.name not in SPACE_MECHANISM_PACKAGES
    }
    found = []
    for path in sorted(space.rglob("*.py")):
        module = _module_name(path, src)
        if module == "nasforge.space":
            continue  # the registry
        own = _space_family(module, families)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py"):
                other = _space_family(target, families)
                if other is None or other == own:
                    continue
                who = f"family {own}" if own else "the mechanism"
                where = path.relative_to(src)
                found.append(f"{where}:{node.lineno}: {who} imports {target} (family {other})")
    return found


def test_every_room_has_a_floor() -> None:
    rooms = {_room(_module_name(p, SRC)) for p in (SRC / "nasforge").rglob("*.py")}
    missing = sorted(r for r in rooms if r not in FLOOR_OF)
    assert not missing, f"rooms without a floor in FLOORS (add each where it belongs): {missing}"
    unused = sorted(r for r in FLOOR_OF if r not in rooms)
    assert not unused, f"FLOORS names rooms that no longer exist: {unused}"


def test_no_import_runs_back_up() -> None:
    found = upward_imports(SRC)
    assert not found, "imports from a lower room to a higher one:\n" + "\n".join(found)


def test_the_space_mechanism_imports_no_family_and_families_not_each_other() -> None:
    found = space_family_imports(SRC)
    assert not found, "imports across the families of space/:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("where", "code", "expected"),
    [
        ("base.py", "from nasforge.space.nb201.space import OPS\n", "the mechanism imports"),
        ("choices/space.py", "def f():\n    from ..darts import net\n", "the mechanism imports"),
        ("nb201/net.py", "from nasforge.space.darts.ops import Zero\n", "family nb201 imports"),
    ],
)
def test_an_import_across_space_families_is_found(
    tmp_path: Path, where: str, code: str, expected: str
) -> None:
    space = tmp_path / "nasforge" / "space"
    for package in ("choices", "nb201", "darts"):
        (space / package).mkdir(parents=True)
        (space / package / "__init__.py").write_text("")
    (space / "__init__.py").write_text("from nasforge.space.darts import x\n")  # the registry
    (space / "darts" / "net.py").write_text("from nasforge.space.choices import Choices\n")
    (space / where).write_text(code)
    found = space_family_imports(tmp_path)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from nasforge.run.storage import Store\n", "training imports nasforge.run.storage"),
        ("def f():\n    import nasforge.cli.app\n", "training imports nasforge.cli.app"),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from nasforge.evaluate import Result\n",
            "training imports nasforge.evaluate",
        ),
        ("from ..oneshot import method\n", "training imports nasforge.oneshot"),
    ],
)
def test_an_upward_import_is_found(tmp_path: Path, code: str, expected: str) -> None:
    package = tmp_path / "nasforge"
    (package / "training").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "training" / "__init__.py").write_text("")
    (package / "training" / "loop.py").write_text(code)
    (package / "training" / "fine.py").write_text("from nasforge.data.task import Task\n")
    found = upward_imports(tmp_path)
    assert len(found) == 1 and expected in found[0], found
