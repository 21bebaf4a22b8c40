"""Every shell command in README.md runs as written from a clean folder (``../shared``
beside it), in the README's order; the printed importance example matches its re-run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readme_commands import CHAINS, EXPORT, ROOT, Command, chain, commands, prepare, run_all

README = (ROOT / "README.md").read_text()


def test_commands_are_read_with_continuations_comments_and_files_to_save() -> None:
    text = """## Two commands
```bash
pip install -e .
```
## Use
```bash
nasforge search \\
    --budget 3   # a comment
nasforge search --label-pattern '^(\\d)_#x'  # kept inside quotes
# a whole-line comment
```
<!-- README runner: save as pkg/mine.py -->
```python
x = 1
```
"""
    assert commands(text) == [
        Command("## Use", "nasforge search --budget 3", heading="## Use"),
        Command("## Use", "nasforge search --label-pattern '^(\\d)_#x'", heading="## Use"),
        Command("## Use", "x = 1\n", "pkg/mine.py", heading="## Use"),
    ]


def test_every_heading_with_a_command_is_in_exactly_one_chain() -> None:
    found = commands(README)
    headings = {c.heading for c in found if not EXPORT.fullmatch(c.text)}
    listed = [h for name in CHAINS for h in CHAINS[name]]
    assert sorted(listed) == sorted(set(listed)), "a heading is in two chains"
    assert headings == set(listed), "CHAINS in tests/readme_commands.py misses a heading"
    ran = [c for name in CHAINS for c in chain(found, name) if not EXPORT.fullmatch(c.text)]
    assert sorted(c.text for c in ran) == sorted(
        c.text for c in found if not EXPORT.fullmatch(c.text)
    )


def test_the_readme_makes_every_file_its_commands_read() -> None:
    """A file a command reads (not from ../shared) is written by an earlier command."""
    found = commands(README)
    written = " ".join(c.save_as or c.text for c in found)
    for name in ("table.csv", "inputs.npz", "digits.npz", "questions.txt"):
        assert name in written
    texts = [c.text for c in found]
    assert texts.index(next(t for t in texts if "> table.csv" in t)) < texts.index(
        next(t for t in texts if "--data table.csv" in t)
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHAINS))
def test_every_readme_command_runs_as_written(
    name: str, tmp_path: Path, nb201_csv_path: Path
) -> None:
    shared = nb201_csv_path.parents[1]  # shared/benchmarks/nb201.csv -> shared/
    found = chain(commands(README), name)
    ran = run_all(prepare(tmp_path, shared), found)
    failed = [r for r in ran if r.returncode != 0]
    assert not failed, (
        f"{failed[0].command.text!r} exited {failed[0].returncode}: {failed[0].stderr[-1500:]}"
    )
    assert len(ran) == len(found)
    if name != "searches":
        return
    printed = "".join(
        r.stdout
        for r in ran
        if r.command.text.startswith(
            ("nasforge importance --name c10", "nasforge explain --name c10")
        )
    )
    (shown,) = re.findall(r"```text\n(.*?)```", README, re.S)
    assert _lines(printed) == _lines(shown)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]
