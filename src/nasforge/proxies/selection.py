"""Which architectures a proxy run scores: every one, or a seeded sample of distinct ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.arch import Arch
    from nasforge.space.base import SearchSpace

DEFAULT_SAMPLE = 100
MAX_ALL = 1_000_000
"""--all refuses spaces larger than this."""


def check_counts(
    sample: int | None, all_archs: bool, batch_size: int, workers: int, threads: int, top: int
) -> None:
    """Refuse a sample with --all, and counts below 1."""
    if sample is not None and all_archs:
        raise ConfigError("give --sample N or --all, not both")
    if sample is not None and sample < 1:
        raise ConfigError(f"--sample must be >= 1, not {sample}")
    for option, value in (
        ("--batch-size", batch_size),
        ("--workers", workers),
        ("--threads", threads),
        ("--top", top),
    ):
        if value < 1:
            raise ConfigError(f"{option} must be >= 1, not {value}")


def choose_archs(space: SearchSpace, sample: int | None, all_archs: bool, seed: int) -> list[Arch]:
    """Every arch (grid order), or ``sample`` distinct ones drawn by ``seed`` (grid order)."""
    import numpy as np

    size = space.size()
    if all_archs:
        if size > MAX_ALL:
            raise ConfigError(
                f"space {space.name!r} has {size:,} architectures, too many for --all "
                f"(at most {MAX_ALL:,}); use --sample N"
            )
        return list(space.enumerate())
    count = DEFAULT_SAMPLE if sample is None else sample
    if count >= size:
        return list(space.enumerate())
    rng = np.random.default_rng(seed)
    if getattr(space, "conditional", False) and size <= MAX_ALL:
        # archs hold only their active decisions: no row arithmetic over all of them
        every = list(space.enumerate())
        return [every[int(row)] for row in np.sort(rng.choice(size, count, replace=False))]
    if size <= 10 * MAX_ALL and not getattr(space, "conditional", False):
        rows = np.sort(rng.choice(size, count, replace=False))
        return [arch_at(space, int(row)) for row in rows]
    drawn: dict[str, Arch] = {}
    while len(drawn) < count:
        arch = space.sample(rng)
        drawn.setdefault(str(arch), arch)
    return list(drawn.values())


def arch_at(space: SearchSpace, index: int) -> Arch:
    """The arch at ``index`` of ``space.enumerate()`` (the last decision varies fastest)."""
    from nasforge.arch import Arch

    picked = []
    for decision in reversed(space.decisions):
        index, position = divmod(index, len(decision.choices))
        picked.append((decision.label, decision.choices[position]))
    return Arch(dict(reversed(picked)))
