"""Every module stays small enough to read in one sitting: under 450 lines; and the command
line stays thin: `cli/` at most 1,600 lines in all, no command module over 250.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "nasforge"
LIMIT = 450
NOT_YET: tuple[str, ...] = ()
CLI_LIMIT = 1600
"""Lines of all of `cli/`: parse, call the library, print (issue 30)."""
COMMAND_LIMIT = 250


def test_every_module_is_under_the_limit() -> None:
    long = [
        f"{path.relative_to(PACKAGE)}: {lines} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in NOT_YET
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) >= LIMIT
    ]
    assert not long, f"modules of {LIMIT} lines or more (split them by what they hold):\n" + (
        "\n".join(long)
    )


def _cli_lines() -> dict[str, int]:
    return {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((PACKAGE / "cli").glob("*.py"))
    }


def test_the_command_line_stays_thin() -> None:
    lines = _cli_lines()
    assert sum(lines.values()) <= CLI_LIMIT, (
        f"cli/ holds {sum(lines.values())} lines, more than {CLI_LIMIT}: move what is not "
        "parsing options, calling one library function and printing into the library"
    )
    long = {name: count for name, count in lines.items() if count > COMMAND_LIMIT}
    assert not long, f"cli/ modules over {COMMAND_LIMIT} lines: {long}"
