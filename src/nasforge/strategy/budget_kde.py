"""`BudgetKDE`: BOHB's sampler (Falkner et al., ICML 2018): a TPE-like pair of kernel
density estimates per budget, proposing from the highest budget with enough results."""

from __future__ import annotations

import math

import numpy as np

from nasforge.arch import Arch
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import (
    Observation,
    Proposal,
    Strategy,
)


class BudgetKDE(Strategy):
    """BOHB's sampler: a good/bad pair of categorical KDEs per budget (see `BOHB`)."""

    name = "kde"
    min_bandwidth = 1e-3

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        random_fraction: float = 1 / 3,
        top_fraction: float = 0.15,
        candidates: int = 64,
        bandwidth_factor: float = 3.0,
    ) -> None:
        super().__init__(space, seed=seed)
        self.random_fraction = random_fraction
        self.top_fraction = top_fraction
        self.candidates = candidates
        self.bandwidth_factor = bandwidth_factor
        self.sizes_ = np.array([len(d.choices) for d in space.decisions])
        self.results_: dict[float | None, list[tuple[np.ndarray, float]]] = {}
        self.proposed_: set[Arch] = set()

    def ask(self) -> Proposal:
        model = self._model()
        if model is None or self.rng.random() < self.random_fraction:
            arch = self.space.sample(self.rng)
        else:
            arch = self._from_model(*model)
        self.proposed_.add(arch)
        return Proposal(arch)

    def tell(self, observation: Observation) -> None:
        score = -math.inf if observation.score is None else observation.score
        point = self._point(observation.arch)
        self.results_.setdefault(observation.proposal.budget, []).append((point, score))

    def _point(self, arch: Arch) -> np.ndarray:
        """The choice index of every decision (inactive ones at the space's default)."""
        full = self.space.complete(arch)
        return np.array([d.index(full[d.label]) for d in self.space.decisions], dtype=np.int64)

    def _model(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(good points, bad points) of the highest budget with enough results, if any."""
        need = len(self.sizes_) + 1
        usable = [
            b for b, results in self.results_.items() if b is not None and len(results) >= need + 2
        ]
        if not usable:
            return None
        results = self.results_[max(usable)]
        order = sorted(range(len(results)), key=lambda k: (-results[k][1], k))
        n_good = max(need, int(self.top_fraction * len(results)))
        points = np.stack([results[k][0] for k in order])
        return points[:n_good], points[n_good:]

    def _bandwidths(self, points: np.ndarray) -> np.ndarray:
        """A normal-reference-like rule, within the kernel's range [0, (k - 1) / k]."""
        n, d = points.shape
        widths = (self.sizes_ - 1) / self.sizes_ * n ** (-1.0 / (d + 4))
        return np.asarray(np.maximum(widths, self.min_bandwidth), dtype=np.float64)

    def _density(self, x: np.ndarray, points: np.ndarray, widths: np.ndarray) -> np.ndarray:
        """Aitchison-Aitken KDE of `points` at each row of `x` (candidates by decisions)."""
        same = x[:, None, :] == points[None, :, :]
        other = widths / np.maximum(self.sizes_ - 1, 1)
        kernel = np.where(same, 1.0 - widths, other)
        return np.asarray(np.prod(kernel, axis=2).mean(axis=1))

    def _from_model(self, good: np.ndarray, bad: np.ndarray) -> Arch:
        widths = self._bandwidths(good)
        keep = 1.0 - np.minimum(widths * self.bandwidth_factor, 1.0)
        centers = good[self.rng.integers(len(good), size=self.candidates)]
        uniform = np.floor(self.rng.random(centers.shape) * self.sizes_).astype(np.int64)
        draws = np.where(self.rng.random(centers.shape) < keep, centers, uniform)
        archs = [self._arch(row) for row in draws]
        if self.space.conditional:
            draws = np.stack([self._point(arch) for arch in archs])
        bad_density = (
            self._density(draws, bad, self._bandwidths(bad)) if len(bad) else np.ones(len(draws))
        )
        ratio = np.maximum(self._density(draws, good, widths), 1e-32) / np.maximum(
            bad_density, 1e-32
        )
        fresh = np.array([arch not in self.proposed_ for arch in archs])
        ranked = np.where(fresh, ratio, -np.inf) if fresh.any() else ratio
        return archs[int(np.argmax(ranked))]

    def _arch(self, indices: np.ndarray) -> Arch:
        """The arch of a point: the choices of the decisions it activates."""
        draw = {
            d.label: d.choices[int(k)] for d, k in zip(self.space.decisions, indices, strict=True)
        }
        return self.space.resolve(draw)
