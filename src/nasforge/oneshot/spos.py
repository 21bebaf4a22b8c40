"""SPOS: single path one-shot NAS with uniform sampling (Guo et al., ECCV 2020).

Two stages that never mix:

1. supernet training: every weight step trains one path drawn uniformly at random (one
   candidate per decision, value choices included, each equally likely), so all paths share
   the weights fairly and nothing is decided yet;
2. evolution over architectures (`nasforge.strategy.RegularizedEvolution`: tournament
   selection, mutation and crossover), each scored by its validation accuracy with the
   inherited weights (`PathScorer`): the path's BatchNorm statistics are first recomputed
   on a few training batches, as SPOS does, then its accuracy is measured on
   ``score_examples`` of the validation set held out of the training split (``arch_share``
   0.1, at least 2 batches: the supernet trains on the rest, as SPOS holds out a small
   validation set). The best arch evaluated is the found arch.

``sampling="sandwich"`` (BigNAS, Yu et al. 2020; also HAT's and once-for-all's supernet
training) trains, on every batch, the largest path (every value choice at its largest),
the smallest (every value choice at its smallest) and ``sandwich_random`` uniform paths,
summing their gradients before one weight step; module and input choices, which have no
size, are drawn uniformly in the largest and smallest paths too. It costs ``2 +
sandwich_random`` forward and backward passes a step, and gives the small sub-networks of
an entangled supernet (the `transformer` and `mobilenet` spaces) as much training as the
large ones. With path limits, only the uniform paths are drawn within them. With
``distill=True`` (BigNAS's in-place distillation, `nasforge.oneshot.distillation`), only the
largest path trains on the labels: the smallest and the uniform paths train on the largest
path's detached probabilities for the same batch.

With a latency table and target (the `mobilenet` space), or ``max_params`` (any space),
SPOS's constrained search: the supernet trains only paths within the limits (uniform
sampling among them, by rejection), and the evolution evaluates only such archs (a proposal
over a limit is told a score of 0 without being evaluated, so it never becomes a parent).

The evolution runs ``generations`` times ``population_size`` evaluations (the first
generation is the random initial population); its diagnostics have one point per generation
(``unit == "generation"``): the choice frequencies of the population, the best arch so far,
its loss and its score. During training the trainer validates a fresh random path each
epoch (with recalibrated statistics), the supernet's learning curve.

SPOS searched with a population of 50 for 20 generations on ImageNet; the defaults here
(20 for 10) fit NB201 on a CPU, where one evaluation of a C=8, N=1 path on 1,000 images
takes a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Arch
from nasforge.measure.latency import model_device
from nasforge.oneshot.bilevel import BilevelSplit
from nasforge.oneshot.calibration import calibration_batches, recalibrate_batchnorm
from nasforge.oneshot.diagnostics import DiagnosticsRecorder
from nasforge.oneshot.distillation import distillation_loss, teacher_probabilities
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.latency_loss import PathLatency
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.path_limits import PathLimit, PathParams
from nasforge.oneshot.sampling import single_path_probes, uniform_path
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation
from nasforge.strategy.evolution import RegularizedEvolution

SAMPLING_RULES = ("uniform", "sandwich")
MAX_REJECTIONS = 1000
"""Paths drawn for one within the latency target before SPOS gives up."""


class SPOS(OneShotMethod):
    """SPOS on the space's supernet: uniform single paths, then evolution on the supernet."""

    name = "spos"
    default_track_running_stats = True
    uses_partial_channels = False  # one path per step is already small
    samples_every_op = True
    latency_in_loss = False
    default_arch_share = 0.1  # the supernet trains on all but a validation set

    def __init__(
        self,
        space: SearchSpace,
        *,
        population_size: int = 20,
        generations: int = 10,
        sample_size: int = 5,
        crossover_prob: float = 0.5,
        score_examples: int = 1000,
        calibration_batches: int = 4,
        max_params: int = 0,
        sampling: str = "uniform",
        sandwich_random: int = 2,
        distill: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        if sampling not in SAMPLING_RULES:
            raise OneShotError(
                f"spos sampling must be one of {', '.join(SAMPLING_RULES)}, not {sampling!r}"
            )
        if sandwich_random < 0:
            raise OneShotError(f"spos sandwich_random must be >= 0, not {sandwich_random}")
        self.sampling, self.sandwich_random = sampling, sandwich_random
        if distill and sampling != "sandwich":
            raise OneShotError(
                "spos distill needs sampling='sandwich': the largest path of each step teaches"
            )
        self.distill = distill
        if max_params < 0:
            raise OneShotError(f"spos max_params must be >= 0 (0: no limit), not {max_params}")
        self.max_params = max_params
        if population_size < 2 or generations < 1:
            raise OneShotError(
                f"spos needs population_size >= 2 and generations >= 1, "
                f"not {population_size} and {generations}"
            )
        if not 1 <= sample_size <= population_size:
            raise OneShotError(f"spos needs 1 <= sample_size <= population_size, not {sample_size}")
        if not 0.0 <= crossover_prob <= 1.0:
            raise OneShotError(f"spos crossover_prob must lie in [0, 1], not {crossover_prob}")
        if score_examples < 1 or calibration_batches < 0:
            raise OneShotError(
                f"spos needs score_examples >= 1 and calibration_batches >= 0, "
                f"not {score_examples} and {calibration_batches}"
            )
        self.population_size = population_size
        self.generations = generations
        self.sample_size = sample_size
        self.crossover_prob = crossover_prob
        self.score_examples = score_examples
        self.calibration_batches = calibration_batches

    def _start(
        self, supernet: SuperNet, split: BilevelSplit, epochs: int, batch_size: int, seed: int
    ) -> None:
        super()._start(supernet, split, epochs, batch_size, seed)
        # no architecture parameters: uniform
        device = model_device(supernet)
        self.alpha_ = {
            label: torch.zeros(supernet.num_choices[label], device=device)
            for label in supernet.labels
        }
        recorder = self.recorder_
        self.recorder_ = DiagnosticsRecorder(recorder.choices, "generation", recorder.arch_choices)
        batches = calibration_batches(
            split.weights_task.x_train, batch_size, self.calibration_batches, seed + 1
        )
        self.calibration_ = [self._layout(b) for b in batches] if self.calibration_batches else []
        self.limits_: list[PathLimit] = []
        if self.latency_table is not None and self.latency_target is not None:
            self.limits_.append(
                PathLatency(
                    self.space,
                    self.latency_table,
                    supernet.input_shape,
                    supernet.num_classes,
                    self.latency_target,
                )
            )
        if self.max_params:
            self.limits_.append(
                PathParams(self.space, supernet.input_shape, supernet.num_classes, self.max_params)
            )

    # -- supernet training ---------------------------------------------------------------
    def _arch_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """None: SPOS decides nothing while the supernet trains."""

    def _use_weight_mode(self) -> None:
        self.supernet_.use_path(self._sample_path())

    def before_forward(self, step: int, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        super().before_forward(step, model, x, y)
        if self.sampling == "sandwich":  # the trainer's own pass trains the largest path
            self.sandwich_batch_: tuple[torch.Tensor, torch.Tensor] | None = (x, y)
            self.supernet_.use_path(self._extreme_path(largest=True))
            if self.distill:  # the trainer's pass of the largest path gives the soft labels
                self.teacher_: torch.Tensor | None = None
                self._capture = self.supernet_.register_forward_hook(self._keep_teacher)

    def _keep_teacher(self, module: nn.Module, args: object, output: torch.Tensor) -> None:
        self.teacher_ = teacher_probabilities(output)
        self._capture.remove()

    def after_backward(self, step: int, model: nn.Module) -> None:
        """Sandwich: add the gradients of the smallest and the uniform paths on the batch
        (on the labels, or on the largest path's probabilities with ``distill``)."""
        batch = getattr(self, "sandwich_batch_", None)
        if batch is None:
            return
        x, y = batch
        teacher = getattr(self, "teacher_", None) if self.distill else None
        paths = [self._extreme_path(largest=False)]
        paths += [self._sample_path() for _ in range(self.sandwich_random)]
        for path in paths:
            self.supernet_.use_path(path)
            self.path_loss(self.supernet_(x), y, teacher).backward()  # type: ignore[no-untyped-call]
        self.sandwich_batch_ = self.teacher_ = None

    @staticmethod
    def path_loss(
        logits: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None
    ) -> torch.Tensor:
        """The loss a smaller path of a sandwich step trains on: the cross-entropy on the
        labels ``y``, or against the ``teacher``'s probabilities (in-place distillation)."""
        if teacher is None:
            return F.cross_entropy(logits, y)
        return distillation_loss(logits, teacher)

    def _extreme_path(self, *, largest: bool) -> dict[str, int]:
        """Every value choice at its largest (or smallest) value, the other decisions drawn
        uniformly."""
        path = uniform_path(self.supernet_, self.generator_)
        for decision in self.supernet_.decisions:
            if decision.label in self.supernet_.value_labels:
                values = [float(v) for v in decision.choices]  # numbers (supernet-checked)
                pick = max if largest else min
                path[decision.label] = values.index(pick(values))
        return path

    def _sample_path(self) -> dict[str, int]:
        """A uniform path, within the limits if there are any (by rejection)."""
        for _ in range(MAX_REJECTIONS):
            path = uniform_path(self.supernet_, self.generator_)
            if self._fits(self.supernet_.arch_of(path)):
                return path
        raise OneShotError(
            f"none of {MAX_REJECTIONS} uniformly sampled paths meets {self._limits_text()}: "
            "raise the limit or narrow the space"
        )

    def _fits(self, arch: Arch) -> bool:
        return all(limit.fits(arch) for limit in self.limits_)

    def _limits_text(self) -> str:
        return " and ".join(limit.text for limit in self.limits_)

    def _use_eval_mode(self) -> None:
        """A fresh random path, with its BatchNorm statistics recomputed."""
        self._use_weight_mode()
        recalibrate_batchnorm(self.supernet_, self.calibration_)

    def _record_epoch(self) -> Arch | None:
        return None  # the diagnostics' points are the evolution's generations

    # -- evolution -----------------------------------------------------------------------
    def _select_arch(self) -> Arch:
        net = self.supernet_
        scorer = self._path_scorer(self.score_examples, self.calibration_batches)
        evolution = RegularizedEvolution(
            self.space,
            seed=self.seed_,
            population_size=self.population_size,
            sample_size=self.sample_size,
            crossover_prob=self.crossover_prob,
        )
        best: tuple[float, float, Arch] | None = None
        for generation in range(self.generations):
            evaluated, proposed = 0, 0
            while evaluated < self.population_size:
                proposal = evolution.ask()
                arch = self.space.validate(proposal.arch)
                proposed += 1
                if not self._fits(arch):
                    if proposed > MAX_REJECTIONS * self.population_size:
                        raise OneShotError(
                            f"spos evolution found too few archs within {self._limits_text()}: "
                            "raise the limit"
                        )
                    evolution.tell(Observation(proposal, 0.0))
                    continue
                evaluated += 1
                accuracy, loss = scorer(arch)
                evolution.tell(Observation(proposal, accuracy))
                if best is None or accuracy > best[0]:
                    best = (accuracy, loss, arch)
            assert best is not None
            accuracy, loss, arch = best
            population = [net.path_of(member) for member, _ in evolution.population_]
            self.recorder_.record_distribution(
                op_frequencies(population, net.num_choices), arch, loss, accuracy
            )
            self.monitor_.on_generation(generation, self.generations, accuracy, arch)
        assert best is not None
        self.evaluated_ = len(scorer.cache)
        scorer.calibrate(best[2])
        return best[2]

    def _memory_probes(self, supernet: SuperNet, alpha: Alpha) -> Sequence[Probe]:
        return single_path_probes(supernet)


def op_frequencies(
    paths: Sequence[Mapping[str, int]], sizes: Mapping[str, int]
) -> dict[str, npt.NDArray[np.float64]]:
    """The share of ``paths`` that choose each candidate of each decision (of the paths in
    which it is active: an all-zero vector if none is)."""
    counts = {label: np.zeros(size, dtype=np.float64) for label, size in sizes.items()}
    for path in paths:
        for label, index in path.items():
            counts[label][index] += 1
    return {label: c / max(c.sum(), 1.0) for label, c in counts.items()}
