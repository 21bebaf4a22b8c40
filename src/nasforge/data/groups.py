"""Splits by group: a group per example (a speaker, a patient, a document source), and
held-out splits that take whole groups, so that a model is scored on groups it never saw.

`group_split` splits off about ``fraction`` of the examples as whole groups, stratified by
label where the groups allow it: it tries random orders of the groups, takes each order's
best prefix, and keeps the prefix whose size is closest to ``fraction`` and whose label
shares are closest to those of all examples (a class that only the split-off groups hold
counts heavily against a split). `groups_from_names` reads a group out of file names with a
regular expression (FSDD's speaker: ``^\\d_([a-z]+)_``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from nasforge.data.task import DataError, stratified_split

IndexArray = npt.NDArray[np.intp]
TRIES = 64
"""Random orders of the groups that `group_split` compares."""


def group_split(
    labels: npt.ArrayLike, groups: npt.ArrayLike, fraction: float, seed: int
) -> tuple[IndexArray, IndexArray]:
    """Sorted indices ``(kept, split_off)``: ``split_off`` holds whole groups, about
    ``fraction`` of the examples, and ``kept`` at least one group (see the module docstring).
    A fixed seed gives the same split on every machine."""
    y = np.asarray(labels)
    names, group_of = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    if len(y) != len(group_of):
        raise DataError(f"{len(group_of)} groups for {len(y)} examples")
    if not 0.0 < fraction < 1.0:
        raise DataError(f"split fraction must be in (0, 1), not {fraction}")
    if len(names) < 2:
        shown = f" ({names[0]})" if len(names) else ""
        raise DataError(
            f"the examples hold {len(names)} group{shown}; a split of whole groups needs at least 2"
        )
    class_of = np.unique(y, return_inverse=True)[1]
    counts = np.zeros((len(names), int(class_of.max()) + 1))
    np.add.at(counts, (group_of, class_of), 1.0)
    total = counts.sum(axis=0)
    shares = total / total.sum()
    rng = np.random.default_rng(seed)
    best: tuple[float, list[int]] = (np.inf, [])
    for _ in range(TRIES):
        order = rng.permutation(len(names))
        taken = np.zeros_like(total)
        for k, group in enumerate(order[:-1], start=1):
            taken = taken + counts[group]
            size = taken.sum()
            score = (
                abs(size - fraction * total.sum()) / total.sum()
                + 0.5 * np.abs(taken / size - shares).sum()
                + 10.0 * float(np.sum(taken >= total))  # a class gone from what is kept
            )
            if score < best[0] - 1e-12:
                best = (score, sorted(order[:k].tolist()))
    split_off = np.flatnonzero(np.isin(group_of, best[1])).astype(np.intp)
    kept = np.flatnonzero(~np.isin(group_of, best[1])).astype(np.intp)
    return kept, split_off


def group_names(groups: Sequence[str] | npt.ArrayLike, index: IndexArray) -> tuple[str, ...]:
    """The sorted distinct groups of the examples at ``index``."""
    return tuple(sorted({str(g) for g in np.asarray(groups)[index].tolist()}))


def groups_from_names(names: Sequence[str], pattern: str, option: str) -> list[str]:
    """The group of each file name: the first group of ``pattern``'s match (the whole match
    if it has none); a `DataError` naming a file that it does not match."""
    try:
        rule = re.compile(pattern)
    except re.error as exc:
        raise DataError(f"{option} {pattern!r} is not a regular expression: {exc}") from None
    found: list[str] = []
    missed: list[str] = []
    for name in names:
        match = rule.search(name)
        if match is None:
            missed.append(name)
            continue
        found.append(match.group(1) if rule.groups else match.group(0))
    if missed:
        how = "matches none" if len(missed) == len(names) else f"does not match {len(missed)}"
        raise DataError(
            f"{option} {pattern!r} {how} of the {len(names)} file names "
            f"(e.g. {missed[0]}); every file needs a group"
        )
    return found


def held_out_split(
    labels: npt.ArrayLike, groups: npt.ArrayLike | None, fraction: float, seed: int
) -> tuple[IndexArray, IndexArray]:
    """`group_split` with groups, else a stratified split (`stratified_split`)."""
    if groups is None:
        return stratified_split(labels, fraction, seed)
    return group_split(labels, groups, fraction, seed)
