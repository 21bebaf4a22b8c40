"""What the single-path methods (ENAS, SPOS) share: memory probes of one path per step, and
the score of a path of the trained supernet on held-out data.

`PathScorer` is the "validation accuracy with inherited weights" of a candidate path: the
supernet runs only that path; if its BatchNorm layers keep running statistics, they are first
recomputed on a fixed set of training batches (`calibration`), as SPOS does, so every
candidate is measured with statistics of its own; then the accuracy and the mean
cross-entropy on a fixed set of held-out examples, in eval mode. Scores are cached by path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from nasforge.arch import Arch
from nasforge.measure.latency import model_device
from nasforge.oneshot.calibration import recalibrate_batchnorm
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.supernet import SuperNet

EVAL_BATCH_SIZE = 1024


def repeated_paths(supernet: SuperNet, labels: Sequence[str]) -> list[dict[str, int]]:
    """For each index ``i``, the path that takes candidate ``i`` on every decision in
    ``labels`` (its last where it has fewer); the other decisions take their largest value."""
    sizes = supernet.num_choices
    count = max((sizes[label] for label in labels), default=1)
    return [{label: min(i, sizes[label] - 1) for label in labels} for i in range(count)]


def single_path_probes(supernet: SuperNet) -> list[Probe]:
    """The forward passes of every path that repeats one candidate on all module and input
    choices, at the largest values: the largest bounds the activations of any single path."""

    def probe(path: dict[str, int]) -> Probe:
        def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            supernet.use_path(path)
            return F.cross_entropy(supernet(x), y)

        return run

    return [probe(path) for path in repeated_paths(supernet, supernet.mixed_labels)]


def uniform_path(supernet: SuperNet, generator: torch.Generator) -> dict[str, int]:
    """One candidate per decision, each uniformly at random."""
    sizes = supernet.num_choices
    labels = supernet.labels
    if len(set(sizes.values())) == 1:  # one draw for all (the same stream as per decision)
        size = sizes[labels[0]]
        drawn = torch.randint(0, size, (len(labels),), generator=generator).tolist()
    else:
        drawn = [int(torch.randint(0, sizes[label], (1,), generator=generator)) for label in labels]
    return {label: int(i) for label, i in zip(labels, drawn, strict=True)}


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
        device = model_device(supernet)
        self.x, self.y = x.to(device), y.to(device)
        self.calibration = [batch.to(device) for batch in calibration]
        self.eval_batch_size = eval_batch_size
        self.cache: dict[Arch, tuple[float, float]] = {}

    def __call__(self, path: Arch | Mapping[str, int]) -> tuple[float, float]:
        """``(accuracy, mean cross-entropy)`` of ``path`` (an arch, or a candidate index per
        decision) on the scorer's examples; paths of one arch are scored once."""
        arch = path if isinstance(path, Arch) else self.supernet.arch_of(path)
        if arch not in self.cache:
            self.cache[arch] = self._score(arch)
        return self.cache[arch]

    def calibrate(self, path: Arch | Mapping[str, int]) -> None:
        """Leave the supernet on ``path`` with BatchNorm statistics recomputed for it."""
        arch = path if isinstance(path, Arch) else self.supernet.arch_of(path)
        self.supernet.use_path(arch)
        recalibrate_batchnorm(self.supernet, self.calibration)

    def _score(self, arch: Arch) -> tuple[float, float]:
        net = self.supernet
        self.calibrate(arch)
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
