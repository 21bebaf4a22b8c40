"""The shell commands of README.md, run as written from a clean folder with ``../shared``
beside it (what a new user has after cloning next to the shared data).

`commands` reads every ```bash block of the README after its "Two commands" section (those
two set up a virtual environment; CI runs them as `.ci/run`), joins continuation lines and
keeps the block each command came from. `run_all` runs them in order in one folder, as a
user following the README would (a later command may use what an earlier one wrote),
through ``bash -c`` with the environment that ``export`` lines set; ``nasforge dashboard``,
which serves until stopped, is started, asked for its front page and stopped with Ctrl-C.

The commands fall into independent chains (`CHAINS`: groups of the README's headings whose
commands use only what earlier commands of the same chain wrote), each run in its own folder,
so that `pytest -n 2` runs two of them at once; every heading with a command is in exactly
one chain (tested), and every chain sees the ``export`` lines of the whole README.

Run as a script to time every command: ``python tests/readme_commands.py [CHAIN]``.
"""

from __future__ import annotations

import os
import re
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
SKIPPED_SECTIONS = ("## Two commands",)
DASHBOARD_URL = "http://127.0.0.1:8080/"


SAVE_AS = re.compile(r"<!-- README runner: save as (\S+) -->")

EXPORT = re.compile(r"export (\w+)=(\S+)")

CHAINS: dict[str, tuple[str, ...]] = {
    # The main job, a trained model, the tabular searches and everything that reads them.
    "searches": (
        "### Search by training candidates",
        "### Search NAS-Bench-201 (tabular, in seconds)",
        "### Several objectives and constraints",
        "### Experiments",
        "### Why this architecture: decision importance and explanations",
        "### Transfer: start from a search on another task",
        "### See the search: HTML report, live dashboard, ONNX",
    ),
    "proxies-oneshot-text": (
        "### Zero-cost proxies: rank architectures without training",
        "### One-shot search: DARTS, PC-DARTS, GDAS, ENAS, SPOS, beta-DARTS",
        "### Text and audio: classify sentences and recordings",
    ),
    "mobilenet-own-space-cifar": (
        "### MobileNet chains, EfficientNet scaling, latency tables",
        "## Write your own space",
        "## CIFAR-10",
    ),
}
"""Independent runs of the README's commands: chain name -> the headings it runs, in order."""


@dataclass(frozen=True)
class Command:
    """A shell command, or (``save_as``) a file the README shows whole, to write first."""

    section: str
    text: str
    save_as: str | None = None
    heading: str = ""
    """The nearest heading above it (``### ...``, else its ``## ...`` section)."""


@dataclass(frozen=True)
class Ran:
    command: Command
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def commands(readme: str) -> list[Command]:
    """The README's shell commands in order, each with the section it stands in."""
    found: list[Command] = []
    section = heading = ""
    in_block = False
    pending = ""
    save_as: str | None = None
    saved: list[str] = []
    for line in readme.splitlines():
        if not in_block and line.startswith("## "):
            section = heading = line
        elif not in_block and line.startswith("### "):
            heading = line
        if SAVE_AS.fullmatch(line.strip()):
            save_as = SAVE_AS.fullmatch(line.strip()).group(1)  # type: ignore[union-attr]
            continue
        if line.startswith("```"):
            if save_as is not None and line.strip() != "```" and not saved:
                saved.append("")  # the block to save starts
                continue
            if save_as is not None and saved:
                found.append(Command(section, "\n".join(saved[1:]) + "\n", save_as, heading))
                save_as, saved = None, []
                continue
            in_block = line.strip() == "```bash" and not section.startswith(SKIPPED_SECTIONS)
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
            found.append(Command(section, text, heading=heading))
    return found


def chain(found: list[Command], name: str) -> list[Command]:
    """The commands of chain `name` in README order, with every ``export`` line of the README
    (a reader following the README has set them)."""
    headings = CHAINS[name]
    return [c for c in found if c.heading in headings or EXPORT.fullmatch(c.text)]


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
            done = subprocess.run(
                ["bash", "-c", command.text],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            seconds = time.perf_counter() - started
            result = Ran(command, seconds, done.returncode, done.stdout, done.stderr)
        ran.append(result)
        if on_ran is not None:
            on_ran(result)
        if result.returncode != 0:
            break
    return ran


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
    found = commands((ROOT / "README.md").read_text())
    for name in sys.argv[1:] or list(CHAINS):
        these = chain(found, name)
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            ran = run_all(prepare(Path(folder), shared), these, on_ran=_print)
        print(f"{sum(r.seconds for r in ran):7.1f} s  total, {len(ran)} of {len(these)} commands")


def _print(result: Ran) -> None:
    status = "ok" if result.returncode == 0 else f"EXIT {result.returncode}"
    shown = f"(save {result.command.save_as})" if result.command.save_as else result.command.text
    print(f"{result.seconds:7.1f} s  {status:8}  {shown[:110]}", flush=True)
    if result.returncode != 0:
        print(result.stderr[-3000:], flush=True)


if __name__ == "__main__":
    main()
