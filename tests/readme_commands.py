"""The shell commands of README.md and of the guide pages its command tour moved to
(``docs/guide/``, `PAGES`), run as written from a clean folder with ``../shared`` beside it
(what a new user has after cloning next to the shared data).

`commands` reads every ```bash block of a page (the README's "Two commands", which set up a
virtual environment and which CI runs as `.ci/run`, and its "Five examples", which repeat
commands of the guide, are not run from the README), joins continuation lines and keeps the
page and heading each command came from. `run_all` runs them in order in one folder, as a
user following the pages would (a later command may use what an earlier one wrote),
through ``bash -c`` with the environment that ``export`` lines set; ``nasforge dashboard``,
which serves until stopped, is started, asked for its front page and stopped with Ctrl-C.

The commands fall into independent chains (`CHAINS`: groups of pages whose commands use
only what earlier commands of the same chain wrote), each run in its own folder, so that
`pytest -n 2` runs two of them at once; every page with a command is in exactly one chain
(tested), and every chain sees the ``export`` lines of every page.

Run as a script to time every command (wall and CPU seconds): ``python
tests/readme_commands.py [CHAIN]``.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_SECTIONS = ("## Two commands", "## Five examples")
DASHBOARD_URL = "http://127.0.0.1:8080/"


SAVE_AS = re.compile(r"<!-- README runner: save as (\S+) -->")

EXPORT = re.compile(r"export (\w+)=(\S+)")

PAGES: tuple[str, ...] = (
    "README.md",
    "docs/guide/search.md",
    "docs/guide/devices-and-precision.md",
    "docs/guide/nb201.md",
    "docs/guide/objectives.md",
    "docs/guide/proxies.md",
    "docs/guide/oneshot.md",
    "docs/guide/experiments.md",
    "docs/guide/importance.md",
    "docs/guide/transfer.md",
    "docs/guide/text-and-audio.md",
    "docs/guide/mobilenet.md",
    "docs/guide/see-the-search.md",
    "docs/guide/own-space.md",
    "docs/guide/python-api.md",
    "docs/guide/benchmark-scripts.md",
    "docs/guide/main-job.md",
    "docs/guide/cifar10.md",
)
"""The pages whose commands run, in the order a reader meets them (the README's command tour
until issue 30, in its order)."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "README.md": ("## Five examples",),
    "docs/getting-started.md": (
        "## A first search",
        "## Search a benchmark table in seconds",
        "## Train one architecture and predict with it",
    ),
}
"""Sections (page -> sections) that only repeat commands the chains run: each of their
commands must be one of those (tested), so they run without running twice."""

CHAINS: dict[str, tuple[str, ...]] = {
    # The main job, a trained model, the tabular searches and everything that reads them.
    "searches": (
        "docs/guide/search.md",
        "docs/guide/nb201.md",
        "docs/guide/objectives.md",
        "docs/guide/experiments.md",
        "docs/guide/importance.md",
        "docs/guide/transfer.md",
        "docs/guide/see-the-search.md",
    ),
    "proxies-oneshot-text": (
        "docs/guide/proxies.md",
        "docs/guide/oneshot.md",
        "docs/guide/text-and-audio.md",
    ),
    "mobilenet-own-space-cifar": (
        "docs/guide/mobilenet.md",
        "docs/guide/own-space.md",
        "docs/guide/cifar10.md",
    ),
}
"""Independent runs of the pages' commands: chain name -> the pages it runs, in `PAGES` order."""


@dataclass(frozen=True)
class Command:
    """A shell command, or (``save_as``) a file the README shows whole, to write first."""

    section: str
    text: str
    save_as: str | None = None
    heading: str = ""
    """The nearest heading above it (``### ...``, else its ``## ...`` section or the page's
    ``# ...`` title)."""
    page: str = ""
    """The page it stands in, relative to the checkout (`PAGES`)."""


@dataclass(frozen=True)
class Ran:
    command: Command
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0
    """User and system time of the command's processes (steadier than `seconds` on a
    shared machine)."""


def commands(
    readme: str, page: str = "", skipped: tuple[str, ...] = SKIPPED_SECTIONS
) -> list[Command]:
    """The shell commands of a page in order, each with the section it stands in (none from
    a section that starts with one of `skipped`)."""
    found: list[Command] = []
    section = heading = ""
    in_block = fenced = False
    pending = ""
    save_as: str | None = None
    saved: list[str] = []
    for line in readme.splitlines():
        if not fenced and line.startswith(("# ", "## ")):
            section = heading = line
        elif not fenced and line.startswith("### "):
            heading = line
        if line.startswith("```"):
            fenced = not fenced
        if SAVE_AS.fullmatch(line.strip()):
            save_as = SAVE_AS.fullmatch(line.strip()).group(1)  # type: ignore[union-attr]
            continue
        if line.startswith("```"):
            if save_as is not None and line.strip() != "```" and not saved:
                saved.append("")  # the block to save starts
                continue
            if save_as is not None and saved:
                found.append(Command(section, "\n".join(saved[1:]) + "\n", save_as, heading, page))
                save_as, saved = None, []
                continue
            in_block = line.strip() == "```bash" and not (skipped and section.startswith(skipped))
            continue
        if saved:
            saved.append(line)
            continue
        if not in_block:
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        text = _without_comment(pending + line.strip()).strip()
        pending = ""
        if text:
            found.append(Command(section, text, heading=heading, page=page))
    return found


def read_pages(root: Path = ROOT) -> list[Command]:
    """The commands of every page of `PAGES`, in order."""
    return [c for page in PAGES for c in commands((root / page).read_text(), page)]


def examples(root: Path = ROOT) -> list[Command]:
    """The commands of the `EXAMPLES` sections, which repeat commands of the chains."""
    return [
        c
        for page, sections in EXAMPLES.items()
        for c in commands((root / page).read_text(), page, skipped=())
        if c.section in sections
    ]


def chain(found: list[Command], name: str) -> list[Command]:
    """The commands of chain `name` in `PAGES` order, with every ``export`` line of the pages
    (a reader following them has set them)."""
    pages = CHAINS[name]
    return [c for c in found if c.page in pages or EXPORT.fullmatch(c.text)]


def _without_comment(line: str) -> str:
    """The line up to a ``#`` that starts a comment (after a space, outside quotes)."""
    if line.lstrip().startswith("#"):
        return ""
    end = line.find(" #")
    while end != -1:
        before = line[:end]
        if before.count("'") % 2 == 0 and before.count('"') % 2 == 0:
            return before
        end = line.find(" #", end + 1)
    return line


def prepare(folder: Path, shared: Path) -> Path:
    """A clean working folder with ``../shared`` beside it; returns the working folder."""
    work = folder / "work"
    work.mkdir(parents=True)
    (folder / "shared").symlink_to(shared, target_is_directory=True)
    return work


def run_all(
    work: Path,
    found: list[Command],
    *,
    timeout: float = 900,
    on_ran: Callable[[Ran], None] | None = None,
) -> list[Ran]:
    """Run every command in `work` in order (`on_ran` is told each); stops at the first
    failure."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran: list[Ran] = []
    for command in found:
        started = time.perf_counter()
        exported = EXPORT.fullmatch(command.text)
        if command.save_as is not None:
            (work / command.save_as).parent.mkdir(parents=True, exist_ok=True)
            (work / command.save_as).write_text(command.text)
            result = Ran(command, 0.0, 0, "", "")
        elif exported:
            env[exported.group(1)] = exported.group(2)
            result = Ran(command, 0.0, 0, "", "")
        elif command.text.startswith("nasforge dashboard"):
            result = _dashboard(command, work, env, started)
        else:
            cpu = _children_cpu()
            done = subprocess.run(
                ["bash", "-c", command.text],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            seconds = time.perf_counter() - started
            result = Ran(
                command, seconds, done.returncode, done.stdout, done.stderr, _children_cpu() - cpu
            )
        ran.append(result)
        if on_ran is not None:
            on_ran(result)
        if result.returncode != 0:
            break
    return ran


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _dashboard(command: Command, work: Path, env: dict[str, str], started: float) -> Ran:
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.text}"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    page = ""
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(DASHBOARD_URL, timeout=5) as response:
                    page = response.read().decode()
                    break
            except OSError:
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    code = 0 if "<html" in page.lower() else 1
    return Ran(command, time.perf_counter() - started, code, stdout, stderr + page[:200])


def main() -> None:
    shared = (ROOT / ".." / "shared").resolve()
    found = read_pages()
    for name in sys.argv[1:] or list(CHAINS):
        these = chain(found, name)
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            ran = run_all(prepare(Path(folder), shared), these, on_ran=_print)
        wall, cpu = sum(r.seconds for r in ran), sum(r.cpu_seconds for r in ran)
        print(f"{wall:7.1f} s  {cpu:7.1f} s cpu  total, {len(ran)} of {len(these)} commands")


def _print(result: Ran) -> None:
    status = "ok" if result.returncode == 0 else f"EXIT {result.returncode}"
    shown = f"(save {result.command.save_as})" if result.command.save_as else result.command.text
    cpu = f"{result.cpu_seconds:7.1f} s cpu"
    print(f"{result.seconds:7.1f} s  {cpu}  {status:8}  {shown[:100]}", flush=True)
    if result.returncode != 0:
        print(result.stderr[-3000:], flush=True)


if __name__ == "__main__":
    main()
