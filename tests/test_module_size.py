"""Every module stays small enough to read in one sitting: under 450 lines.

`cli/` is left out while it is being rewritten (the thin-CLI work); take it in once it is.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "nasforge"
LIMIT = 450
NOT_YET = ("cli",)


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
