"""Compound scaling (EfficientNet, Tan and Le 2019) on a user's task.

Step 1, with ``phi = 1``: a small grid search over the depth, width and resolution
coefficients (alpha, beta, gamma) under ``alpha * beta**2 * gamma**2 ~= 2`` (FLOPs about
double per unit of phi), each point trained with the training evaluator. Step 2: the best
point's coefficients (or given ones, the paper's 1.2, 1.1, 1.15 by default) scale the base
network by ``phi = 1, 2, 3``. Every point reports accuracy, parameters, multiply-adds and
batch-1 latency, measured the same way (`nasforge.evaluate.training.TrainingEvaluator`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError
from nasforge.evaluate.base import Evaluator
from nasforge.space.mobilenet.scaling import scale_arch, scaled_resolution
from nasforge.space.mobilenet.space import MobileNetSpace

PAPER_COEFFICIENTS = (1.2, 1.1, 1.15)
"""alpha (depth), beta (width), gamma (resolution) of EfficientNet."""
ALPHAS = (1.0, 1.1, 1.2, 1.3, 1.4)
BETAS = (1.0, 1.05, 1.1, 1.15, 1.2)
GAMMAS = (1.0, 1.05, 1.1, 1.15, 1.2, 1.3)

EvaluatorFactory = Callable[[MobileNetSpace], Evaluator]
"""Makes the training evaluator of one scaled space (the task and training stay fixed)."""


@dataclass(frozen=True)
class ScalingPoint:
    """One trained network of the scaling study."""

    step: str
    """``base``, ``grid`` or ``scaled``."""
    alpha: float
    beta: float
    gamma: float
    phi: int
    resolution: int
    arch: str
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line: the step, the coefficients, accuracy (or status), size and latency."""
        metrics = self.metrics
        accuracy = metrics.get("accuracy")
        accuracy_text = f"{accuracy:.2f}" if accuracy is not None else self.status
        return (
            f"{self.step:<6} phi={self.phi} alpha={self.alpha} beta={self.beta} "
            f"gamma={self.gamma} resolution={self.resolution}: accuracy {accuracy_text}, "
            f"params {metrics.get('params', float('nan')):,.0f}, multiply-adds "
            f"{metrics.get('flops', float('nan')):,.0f}, latency "
            f"{metrics.get('latency_ms', float('nan')):.2f} ms"
        )


@dataclass(frozen=True)
class ScalingReport:
    metric: str
    base_resolution: int
    coefficients: tuple[float, float, float]
    """The coefficients step 2 scaled with."""
    chosen_by: str
    """``grid`` (the best grid point) or ``given``."""
    points: list[ScalingPoint]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "base_resolution": self.base_resolution,
            "coefficients": list(self.coefficients),
            "chosen_by": self.chosen_by,
            "points": [p.to_dict() for p in self.points],
        }

    def summary(self) -> list[str]:
        """The coefficients and how they were chosen, then one line a point."""
        a, b, g = self.coefficients
        return [
            f"scaled with alpha={a}, beta={b}, gamma={g} ({self.chosen_by}); base resolution "
            f"{self.base_resolution}",
            *(point.summary() for point in self.points),
        ]


def coefficient_grid(
    alphas: Sequence[float] = ALPHAS,
    betas: Sequence[float] = BETAS,
    gammas: Sequence[float] = GAMMAS,
    *,
    tolerance: float = 0.1,
    limit: int | None = None,
) -> list[tuple[float, float, float]]:
    """(alpha, beta, gamma) with ``|alpha * beta**2 * gamma**2 - 2| <= tolerance``, the
    closest to 2 first; at most `limit` of them."""
    points = [
        (a, b, g)
        for a, b, g in itertools.product(alphas, betas, gammas)
        if abs(a * b * b * g * g - 2.0) <= tolerance
    ]
    points.sort(key=lambda p: (round(abs(p[0] * p[1] ** 2 * p[2] ** 2 - 2.0), 9), p))
    if not points:
        raise ConfigError(
            f"no (alpha, beta, gamma) of the grid has alpha * beta^2 * gamma^2 within "
            f"{tolerance} of 2; widen the grid or the tolerance"
        )
    return points[:limit] if limit is not None else points


def compound_scaling(
    space: MobileNetSpace,
    arch: Arch,
    make_evaluator: EvaluatorFactory,
    *,
    base_resolution: int,
    grid: Sequence[tuple[float, float, float]] | None = None,
    coefficients: tuple[float, float, float] | None = None,
    phis: Sequence[int] = (1, 2, 3),
    metric: str = "accuracy",
    on_point: Callable[[ScalingPoint], None] | None = None,
) -> ScalingReport:
    """Train the base, the grid points (unless `coefficients` are given), then the base
    scaled by each phi with the chosen coefficients."""
    if not phis or any(phi < 1 for phi in phis):
        raise ConfigError(f"phi values must be >= 1, not {list(phis)}")
    if coefficients is not None and min(coefficients) < 1.0:
        raise ConfigError(f"scaling coefficients must be >= 1, not {list(coefficients)}")
    arch = space.validate(arch)
    points: list[ScalingPoint] = []

    def train(step: str, a: float, b: float, g: float, phi: int) -> ScalingPoint:
        resolution = scaled_resolution(base_resolution, g**phi)
        scaled_space, scaled = scale_arch(
            space, arch, depth=a**phi, width=b**phi, resolution=resolution
        )
        result = make_evaluator(scaled_space).evaluate(scaled)
        point = ScalingPoint(
            step, a, b, g, phi, resolution, str(scaled), dict(result.metrics), result.status.value
        )
        points.append(point)
        if on_point is not None:
            on_point(point)
        return point

    train("base", 1.0, 1.0, 1.0, 0)
    chosen_by = "given"
    if coefficients is None:
        tried = [train("grid", a, b, g, 1) for a, b, g in (grid or coefficient_grid(limit=6))]
        scored = [p for p in tried if metric in p.metrics]
        if not scored:
            raise ConfigError(f"no grid point measured {metric!r}: every training failed")
        best = max(scored, key=lambda p: p.metrics[metric])
        coefficients, chosen_by = (best.alpha, best.beta, best.gamma), "grid"
    a, b, g = coefficients
    grid_points = {(p.alpha, p.beta, p.gamma): p for p in points if p.step == "grid"}
    for phi in phis:
        if phi == 1 and (a, b, g) in grid_points:  # trained already: the same network
            again = dataclasses.replace(grid_points[(a, b, g)], step="scaled")
            points.append(again)
            if on_point is not None:
                on_point(again)
            continue
        train("scaled", a, b, g, phi)
    return ScalingReport(metric, base_resolution, (a, b, g), chosen_by, points)


def scale_on_task(
    arch: str,
    space_params: dict[str, Any],
    task: str,
    data: Path | None,
    *,
    coefficients: tuple[float, float, float] | None = None,
    grid_points: int = 4,
    tolerance: float = 0.1,
    phis: Sequence[int] = (1, 2, 3),
    on_point: Callable[[ScalingPoint], None] | None = None,
    **training: Any,
) -> ScalingReport:
    """`compound_scaling` of `arch` (a mobilenet arch's text or published name) trained on
    `task` with the `training` settings (epochs, lr, batch_size, threads, seed); the grid
    holds the `grid_points` closest to 2 within `tolerance` unless `coefficients` are given."""
    from nasforge.run.setup import training_evaluator_factory
    from nasforge.space import with_named_options

    if grid_points < 1:
        raise ConfigError(f"--grid-points must be >= 1, not {grid_points}")
    space = MobileNetSpace(**with_named_options("mobilenet", arch, space_params))
    base_arch = space.parse(arch)
    loaded, make_evaluator = training_evaluator_factory(task, data, **training)
    grid = None if coefficients else coefficient_grid(tolerance=tolerance, limit=grid_points)
    return compound_scaling(
        space,
        base_arch,
        make_evaluator,
        base_resolution=space.input_resolution(loaded.input_shape),
        grid=grid,
        coefficients=coefficients,
        phis=phis,
        on_point=on_point,
    )
