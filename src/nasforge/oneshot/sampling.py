"""What the single-path methods (ENAS, SPOS) share: memory probes of one path per step, and
the score of a path of the trained supernet on held-out data.

`PathScorer` is the "validation accuracy with inherited weights" of a candidate path: the
supernet runs only that path; if its BatchNorm layers keep running statistics, they are first
recomputed on a fixed set of training batches (`calibration`), as SPOS does, so every
candidate is measured with statistics of its own; then the accuracy and the mean
cross-entropy on a fixed set of held-out examples, in eval mode. Scores are cached by path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from nasforge.oneshot.calibration import recalibrate_batchnorm
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.supernet import SuperNet

EVAL_BATCH_SIZE = 1024


def single_path_probes(supernet: SuperNet) -> list[Probe]:
    """The forward passes of every path that repeats one op on all edges: the largest bounds
    the activations of any single path."""
    edges, ops = supernet.shape

    def probe(op: int) -> Probe:
        def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            supernet.use_path([op] * edges)
            return F.cross_entropy(supernet(x), y)

        return run

    return [probe(op) for op in range(ops)]


def uniform_path(supernet: SuperNet, generator: torch.Generator) -> tuple[int, ...]:
    """One op per edge, each uniformly at random."""
    edges, ops = supernet.shape
    return tuple(int(i) for i in torch.randint(0, ops, (edges,), generator=generator))


class PathScorer:
    """Accuracy and loss of paths of ``supernet`` on ``x, y`` (see the module docstring)."""

    def __init__(
        self,
        supernet: SuperNet,
        x: torch.Tensor,
        y: torch.Tensor,
        calibration: Sequence[torch.Tensor] = (),
        *,
        eval_batch_size: int = EVAL_BATCH_SIZE,
    ) -> None:
        self.supernet = supernet
        self.x, self.y = x, y
        self.calibration = list(calibration)
        self.eval_batch_size = eval_batch_size
        self.cache: dict[tuple[int, ...], tuple[float, float]] = {}

    def __call__(self, path: Sequence[int]) -> tuple[float, float]:
        """``(accuracy, mean cross-entropy)`` of ``path`` on the scorer's examples."""
        key = tuple(int(i) for i in path)
        if key not in self.cache:
            self.cache[key] = self._score(key)
        return self.cache[key]

    def calibrate(self, path: Sequence[int]) -> None:
        """Leave the supernet on ``path`` with BatchNorm statistics recomputed for it."""
        self.supernet.use_path(path)
        recalibrate_batchnorm(self.supernet, self.calibration)

    def _score(self, path: tuple[int, ...]) -> tuple[float, float]:
        net = self.supernet
        self.calibrate(path)
        was_training = net.training
        net.eval()
        correct, loss = 0, 0.0
        try:
            with torch.no_grad():
                for xb, yb in zip(
                    torch.split(self.x, self.eval_batch_size),
                    torch.split(self.y, self.eval_batch_size),
                    strict=True,
                ):
                    logits = net(xb)
                    correct += int((logits.argmax(1) == yb).sum())
                    loss += float(F.cross_entropy(logits, yb, reduction="sum"))
        finally:
            net.train(was_training)
        count = max(len(self.y), 1)
        return correct / count, loss / count
