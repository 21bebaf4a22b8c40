"""Every shell command in README.md and the guide pages (``docs/guide/``) runs as written from
a clean folder (``../shared`` beside it), in the pages' order; the printed importance example
matches its re-run; the examples of the README and of the getting-started page are commands
that run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readme_commands import (
    CHAINS,
    EXAMPLES,
    EXPORT,
    PAGES,
    ROOT,
    Command,
    chain,
    commands,
    examples,
    prepare,
    read_pages,
    run_all,
)


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
# not a heading
```
### More
```bash
nasforge status
```
"""
    assert commands(text, "page.md") == [
        Command("## Use", "nasforge search --budget 3", heading="## Use", page="page.md"),
        Command(
            "## Use",
            "nasforge search --label-pattern '^(\\d)_#x'",
            heading="## Use",
            page="page.md",
        ),
        Command("## Use", "x = 1\n# not a heading\n", "pkg/mine.py", "## Use", "page.md"),
        Command("## Use", "nasforge status", heading="### More", page="page.md"),
    ]


def test_a_page_title_is_a_section_and_skipped_sections_are_read_on_request() -> None:
    text = "# Guide\n```bash\nnasforge best\n```\n## Two commands\n```bash\npip install .\n```\n"
    assert commands(text) == [Command("# Guide", "nasforge best", heading="# Guide")]
    assert [c.text for c in commands(text, skipped=())] == ["nasforge best", "pip install ."]


def test_every_page_with_a_command_is_in_exactly_one_chain() -> None:
    found = read_pages()
    pages = {c.page for c in found if not EXPORT.fullmatch(c.text)}
    listed = [page for name in CHAINS for page in CHAINS[name]]
    assert sorted(listed) == sorted(set(listed)), "a page is in two chains"
    assert pages == set(listed), "CHAINS in tests/readme_commands.py misses a page"
    for name, chained in CHAINS.items():
        assert [p for p in PAGES if p in chained] == list(chained), f"{name}: not in PAGES order"
    ran = [c for name in CHAINS for c in chain(found, name) if not EXPORT.fullmatch(c.text)]
    assert sorted(c.text for c in ran) == sorted(
        c.text for c in found if not EXPORT.fullmatch(c.text)
    )


def test_every_guide_page_with_a_shell_command_is_read() -> None:
    """A page added to docs/guide/ with commands runs them (or says why not, here)."""
    with_commands = {
        str(page.relative_to(ROOT))
        for page in (ROOT / "docs" / "guide").glob("*.md")
        if "```bash" in page.read_text()
    }
    assert with_commands <= set(PAGES)


def test_the_examples_are_commands_that_run() -> None:
    """The README's five examples and the getting-started page repeat, word for word,
    commands that a chain runs (after what they need), so they run without running twice."""
    run = {c.text for name in CHAINS for c in chain(read_pages(), name)}
    shown = examples()
    assert {c.page for c in shown} == set(EXAMPLES)
    assert len([c for c in shown if c.page == "README.md"]) >= 6
    assert [c.text for c in shown if c.text not in run] == []
    getting_started = commands((ROOT / "docs" / "getting-started.md").read_text(), skipped=())
    not_examples = {c.section for c in getting_started} - set(EXAMPLES["docs/getting-started.md"])
    assert not_examples == {"## Install"}, "a getting-started command is neither setup nor run"


def test_the_readme_makes_every_file_its_commands_read() -> None:
    """A file a command reads (not from ../shared) is written by an earlier command."""
    found = read_pages()
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
    found = chain(read_pages(), name)
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
    pages = "".join((ROOT / page).read_text() for page in PAGES)
    (shown,) = re.findall(r"```text\n(.*?)```", pages, re.S)
    assert _lines(printed) == _lines(shown)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]
