"""Pareto dominance, non-dominated sorting, crowding distance and hypervolume.

Every function takes score vectors in which higher is better in every component (the
experiment negates minimized metrics before anything here sees them).
"""

from __future__ import annotations

from collections.abc import Sequence

Scores = Sequence[float]


def dominates(a: Scores, b: Scores) -> bool:
    """`a` is at least as good as `b` everywhere and better somewhere."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True)
    )


def pareto_front(points: Sequence[Scores]) -> list[int]:
    """Indices of the points no other point dominates (duplicates all kept), in input order."""
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def non_dominated_sort(points: Sequence[Scores]) -> list[list[int]]:
    """Fronts of indices: the Pareto front first, then the front of what remains, and so on."""
    dominated_by: list[list[int]] = [[] for _ in points]
    count = [0] * len(points)
    for i, p in enumerate(points):
        for j in range(i + 1, len(points)):
            q = points[j]
            if dominates(p, q):
                dominated_by[i].append(j)
                count[j] += 1
            elif dominates(q, p):
                dominated_by[j].append(i)
                count[i] += 1
    fronts: list[list[int]] = []
    current = [i for i, c in enumerate(count) if c == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def crowding_distance(points: Sequence[Scores]) -> list[float]:
    """NSGA-II crowding distance of each point within its own front (boundaries: infinity)."""
    n = len(points)
    if n == 0:
        return []
    distance = [0.0] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][k])
        low, high = points[order[0]][k], points[order[-1]][k]
        distance[order[0]] = distance[order[-1]] = float("inf")
        if high == low:
            continue
        for rank in range(1, n - 1):
            gap = points[order[rank + 1]][k] - points[order[rank - 1]][k]
            distance[order[rank]] += gap / (high - low)
    return distance


def hypervolume(points: Sequence[Scores], reference: Scores) -> float:
    """The volume dominated by `points` and bounded below by `reference` (exact).

    Points that do not strictly beat the reference in every component add nothing. Uses a
    sweep in two dimensions and slicing by the last objective above that.
    """
    kept = [tuple(p) for p in points if all(x > r for x, r in zip(p, reference, strict=True))]
    if not kept:
        return 0.0
    if len(reference) == 1:
        return max(p[0] for p in kept) - reference[0]
    if len(reference) == 2:
        volume, best_y = 0.0, reference[1]
        for x, y in sorted(kept, key=lambda p: (-p[0], -p[1])):
            if y > best_y:
                volume += (x - reference[0]) * (y - best_y)
                best_y = y
        return volume
    levels = sorted({p[-1] for p in kept}, reverse=True)
    volume = 0.0
    for upper, lower in zip(levels, [*levels[1:], reference[-1]], strict=True):
        slab = [p[:-1] for p in kept if p[-1] >= upper]
        volume += hypervolume(slab, reference[:-1]) * (upper - lower)
    return volume
