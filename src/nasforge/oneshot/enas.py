"""ENAS: efficient neural architecture search via parameter sharing (Pham et al., ICML 2018).

An LSTM controller (`nasforge.strategy.lstm_policy.LSTMPolicy`, the one the `reinforce`
strategy uses) samples one candidate per decision, every decision of the space (module,
input and value choices; one output head per decision, sized to its choices). On a space with
conditional decisions it draws only those the space asks (see `ENAS._sample`). Each epoch has
two phases, as in ENAS and the NAS-Bench-201 authors' ENAS:

1. the shared weights train for one epoch over the training split minus a validation set
   (``arch_share`` 0.1, at least 2 batches, as ENAS's 45,000 / 5,000 images), each step on
   a fresh path sampled from the controller;
2. the controller trains by REINFORCE on that validation set: ``controller_steps`` Adam
   steps, each on ``controller_aggregate`` sampled paths, whose reward is the accuracy of the
   path on one batch (eval mode, no gradient); the advantage is the reward minus a moving
   average of the rewards (decay ``baseline_decay``), and an entropy bonus
   (``entropy_weight``) keeps the policy from collapsing early.

After training, ``final_samples`` paths sampled from the controller and the most likely path
(argmax of the per-decision probabilities) are scored on ``score_examples`` of the
validation set (`PathScorer`), and the best is the found arch, as ENAS picks the best of
several sampled models.

The controller's settings follow the NAS-Bench-201 ENAS script (``xautodl``: logits
``2.5 * tanh(logits / 5)``, Adam betas (0, 0.999), eps 1e-3, gradient norm clipped at 5,
entropy weight 1e-4, baseline decay 0.99; BatchNorm tracks running statistics), except its
size (one LSTM layer of 32, not two), the number of controller samples per epoch (there 50
steps of 20 per epoch of 196 weight steps, over 310 epochs; here 10 of 10 by default, in
proportion to the far shorter CPU epochs and searches) and, for that reason, the learning
rate: 1e-2, not 1e-3. Measured on digits (C=8, N=1, 20 epochs, seed 0): with 1e-3 the
controller stayed uniform (entropy 1.61 nats per edge, the maximum); with 1e-2 it converged
to 0.55 nats and a mean reward of 0.89; with 3e-2 it collapsed faster (0.18 nats).

The diagnostics' architecture distribution is the controller's probability of each choice of
each decision (summed over the other decisions: exact up to 65,536 paths, such as NB201's
15,625, sampled above), and its score the mean reward of the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasforge.arch import Arch
from nasforge.oneshot.bilevel import BilevelSplit
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.sampling import single_path_probes
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace
from nasforge.strategy.lstm_policy import LSTMPolicy


class ENAS(OneShotMethod):
    """ENAS on the space's supernet: controller-sampled paths, REINFORCE on a validation set."""

    name = "enas"
    default_track_running_stats = True
    uses_partial_channels = False  # one path per step is already small
    supports_latency = False
    samples_every_op = True
    augments_arch_batches = False  # rewards on unaugmented images, as xautodl's ENAS
    default_arch_share = 0.1  # the supernet trains on all but a validation set

    def __init__(
        self,
        space: SearchSpace,
        *,
        controller_lr: float = 1e-2,
        controller_hidden: int = 32,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        controller_steps: int = 10,
        controller_aggregate: int = 10,
        temperature: float = 5.0,
        tanh_constant: float = 2.5,
        final_samples: int = 10,
        score_examples: int = 1000,
        calibration_batches: int = 4,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        checks = {
            "controller_lr": controller_lr > 0,
            "controller_hidden": controller_hidden >= 1,
            "entropy_weight": entropy_weight >= 0,
            "baseline_decay": 0 <= baseline_decay < 1,
            "controller_steps": controller_steps >= 1,
            "controller_aggregate": controller_aggregate >= 1,
            "temperature": temperature > 0,
            "tanh_constant": tanh_constant > 0,
            "final_samples": final_samples >= 0,
            "score_examples": score_examples >= 1,
            "calibration_batches": calibration_batches >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise OneShotError(
                f"enas: invalid {', '.join(bad)} (rates, sizes and counts must be positive, "
                "baseline_decay in [0, 1))"
            )
        self.controller_lr = controller_lr
        self.controller_hidden = controller_hidden
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.controller_steps = controller_steps
        self.controller_aggregate = controller_aggregate
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.final_samples = final_samples
        self.score_examples = score_examples
        self.calibration_batches = calibration_batches

    def _start(
        self, supernet: SuperNet, split: BilevelSplit, epochs: int, batch_size: int, seed: int
    ) -> None:
        super()._start(supernet, split, epochs, batch_size, seed)
        self.controller_ = LSTMPolicy(
            [supernet.num_choices[label] for label in supernet.labels],
            self.controller_hidden,
            self.controller_lr,
            seed,
            temperature=self.temperature,
            tanh_constant=self.tanh_constant,
            betas=(0.0, 0.999),
            eps=1e-3,
            grad_clip=5.0,
        )
        self.baseline_: float | None = None
        self._rewards: list[float] = []
        self._update_distribution()

    def _update_distribution(self) -> None:
        """The controller's probabilities per decision; alpha is their log."""
        marginals = self.controller_.marginals(self.seed_)
        self.probabilities_ = dict(zip(self.supernet_.labels, marginals, strict=True))
        self.alpha_ = {
            label: torch.log(torch.tensor(p, dtype=torch.float32))
            for label, p in self.probabilities_.items()
        }

    def _sample(self) -> tuple[list[int], list[bool], Arch | dict[str, int]]:
        """A controller sample: an index per decision, which decisions are active, and the
        path (a candidate index per decision, or the arch where decisions are conditional).

        On a space with conditional decisions the controller draws only the decisions the
        space asks (`LSTMPolicy.walk` through `sample_with`, as the `reinforce` strategy
        does): an inactive decision is stepped over with its first choice, so the masked
        log-probability of the update is exactly that of the draws."""
        net = self.supernet_
        space = net.space
        if not space.conditional:
            indices = self.controller_.sample()
            path = dict(zip(net.labels, indices, strict=True))
            return indices, [True] * len(indices), path
        walk = self.controller_.walk()
        position = {label: i for i, label in enumerate(net.labels)}
        arch = space.sample_with(lambda d: d.choices[walk.draw(position[d.label])])
        completed = space.complete(arch)
        indices = [d.index(completed[d.label]) for d in net.decisions]
        return indices, [label in arch for label in net.labels], arch

    # -- the two phases ------------------------------------------------------------------
    def _arch_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """None per weight step: the controller trains after the epoch."""

    def _use_weight_mode(self) -> None:
        self.supernet_.use_path(self._sample()[2])

    def _before_validation(self) -> None:
        if not self.warming_up_:
            self._train_controller()
        super()._before_validation()

    def _train_controller(self) -> None:
        net = self.supernet_
        was_training = net.training
        net.eval()
        rewards, losses = [], []
        decay = self.baseline_decay
        try:
            for _ in range(self.controller_steps):
                batch: list[tuple[list[int], float]] = []
                masks: list[list[bool]] = []
                for _ in range(self.controller_aggregate):
                    choices, active, path = self._sample()
                    x, y = self.arch_batches_.next()
                    masks.append(active)
                    net.use_path(path)
                    with torch.no_grad():
                        logits = net(self._layout(x))
                    reward = float((logits.argmax(1) == y).double().mean())
                    losses.append(float(F.cross_entropy(logits, y)))
                    rewards.append(reward)
                    baseline = self.baseline_
                    baseline = (
                        reward if baseline is None else decay * baseline + (1 - decay) * reward
                    )
                    self.baseline_ = baseline
                    batch.append((choices, reward - baseline))
                self.controller_.update(
                    batch, self.entropy_weight, masks if not all(map(all, masks)) else None
                )
        finally:
            net.train(was_training)
        self._arch_losses, self._rewards = losses, rewards
        self._update_distribution()

    def _record_epoch(self) -> Arch | None:
        arch = self._argmax_arch()
        self.recorder_.record_distribution(
            self.probabilities_,
            arch,
            float(np.mean(self._arch_losses)) if self._arch_losses else float("nan"),
            float(np.mean(self._rewards)) if self._rewards else float("nan"),
        )
        return arch

    # -- the found arch ------------------------------------------------------------------
    def _select_arch(self) -> Arch:
        """The best, by `PathScorer`, of the most likely path and ``final_samples`` sampled
        paths (the first of equals)."""
        net = self.supernet_
        candidates = [self._argmax_arch()]
        for _ in range(self.final_samples):
            path = self._sample()[2]
            candidates.append(path if isinstance(path, Arch) else net.arch_of(path))
        unique = list(dict.fromkeys(candidates))
        scorer = self._path_scorer(self.score_examples, self.calibration_batches)
        self.candidate_scores_ = {arch: scorer(arch)[0] for arch in unique}
        best = max(unique, key=lambda arch: scorer(arch)[0])
        scorer.calibrate(best)
        return best

    def _memory_probes(self, supernet: SuperNet, alpha: Alpha) -> Sequence[Probe]:
        return single_path_probes(supernet)
