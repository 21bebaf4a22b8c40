"""REINFORCE with an LSTM controller (Zoph & Le, ICLR 2017; ENAS, Pham et al., ICML 2018).

The controller is a small LSTM that makes the space's decisions one after another: the
embedding of the previous choice is the next input, and each decision has its own softmax
head sized to its choices. It is trained by policy gradient on the observed scores: the
advantage is the score minus a moving-average baseline, divided by a moving-average
standard deviation, and an entropy bonus keeps the policy from collapsing too early.

Every told arch is scored by its log-probability under the current policy, so archs that
the controller did not propose itself (replayed or foreign trials) are learned from too.

Asks may run ahead of tells (parallel workers, as in the asynchronous training of Zoph & Le
and NASNet): every ask samples the current policy, and the policy is updated as rewards
arrive, in any order. A reward is paired with its proposal through the arch it reports: the
arch's decisions are the sampled actions, and their log-probability is computed from them
at update time, so nothing is matched by position. The gradient is taken at the current
policy, which may have moved since the arch was sampled (no importance correction, as with
stale asynchronous gradients); the baseline and the score statistics follow the order in
which rewards arrive.

Defaults were measured on NAS-Bench-201 (12-epoch signal, 30 seeds). The entropy weight is
larger than ENAS's because advantages are normalized to unit scale. The hidden size is kept
small so that every weight tensor stays tiny: torch then never starts intra-op threads, and
an ask or a tell costs about a millisecond.

On a space with conditional decisions (archs hold only the active ones) the controller
draws only the decisions the space asks (`SearchSpace.sample_with`: the constructor asks
each active decision in turn); the LSTM steps over a decision that is not asked with that
decision's first choice as the next input, and draws nothing for it. A told arch is turned
back into a choice for every decision with `SearchSpace.complete` (inactive ones at their
first choice, as the LSTM stepped over them), and its log-probability sums over the active
decisions only: an inactive decision had no effect on the score, so it gets no policy
gradient (nor entropy bonus). The log-probability used for the gradient is then exactly
that of the draws that proposed the arch, as on any other space. (On a space that asks its
decisions out of their listed order, a decision asked late is drawn from the LSTM's state
at that point, so its draw and its score differ slightly: see `PolicyWalk`.)

The LSTM itself is `nasforge.strategy.lstm_policy.LSTMPolicy`, shared with ENAS. Torch is
imported on first use; the controller's weights are initialized from the seed
without touching torch's global random state, and sampling uses the strategy's own
generator, so the state is a function of the seed and the ask/tell sequence.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nasforge.arch import Arch, Choice
from nasforge.errors import StrategyError
from nasforge.space.base import Decision, SearchSpace
from nasforge.strategy.base import Observation, Proposal, Strategy

if TYPE_CHECKING:
    from nasforge.strategy.lstm_policy import LSTMPolicy


MAX_REDRAWS = 20


class ReinforceController(Strategy):
    """An LSTM policy over the decisions, trained with REINFORCE after every `batch_size` tells."""

    name = "reinforce"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        hidden_size: int = 16,
        learning_rate: float = 0.01,
        entropy_weight: float = 0.1,
        baseline_decay: float = 0.9,
        batch_size: int = 1,
    ) -> None:
        super().__init__(space, seed=seed)
        if hidden_size < 1:
            raise StrategyError(f"reinforce needs hidden_size >= 1, not {hidden_size}")
        if not learning_rate > 0:
            raise StrategyError(f"reinforce needs learning_rate > 0, not {learning_rate}")
        if not entropy_weight >= 0:
            raise StrategyError(f"reinforce needs entropy_weight >= 0, not {entropy_weight}")
        if not 0.0 <= baseline_decay < 1.0:
            raise StrategyError(f"baseline_decay must lie in [0, 1), not {baseline_decay}")
        if batch_size < 1:
            raise StrategyError(f"reinforce needs batch_size >= 1, not {batch_size}")
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.batch_size = batch_size
        self.baseline_: float | None = None
        self.count_ = 0
        self.mean_ = 0.0
        self.sum_squares_ = 0.0
        self.lowest_: float | None = None
        # told, awaiting the next update: (indices of every decision, active?, advantage)
        self.pending_: list[tuple[list[int], list[bool], float]] = []
        self.proposed_: set[Arch] = set()
        self.updates_ = 0
        self._model: LSTMPolicy | None = None

    # -- ask and tell ----------------------------------------------------------------
    def ask(self) -> Proposal:
        """A sample of the policy; a repeat of an earlier proposal is redrawn up to
        `MAX_REDRAWS` times, so that a converged controller keeps exploring around its mode."""
        arch = self._sample()
        for _ in range(MAX_REDRAWS):
            if arch not in self.proposed_:
                break
            arch = self._sample()
        self.proposed_.add(arch)
        return Proposal(arch)

    def _sample(self) -> Arch:
        return self.sample_with_log_prob()[0]

    def sample_with_log_prob(self) -> tuple[Arch, float]:
        """An arch drawn from the policy, decision by decision as the space asks them, and
        the log-probability of its draws."""
        walk = self._policy().walk()
        decisions = self.space.decisions
        position = {d.label: i for i, d in enumerate(decisions)}

        def answer(decision: Decision) -> Choice:
            step = position[decision.label]
            return decisions[step].choices[walk.draw(step)]

        return self.space.sample_with(answer), walk.log_prob

    def actions(self, arch: Arch) -> tuple[list[int], list[bool]]:
        """The controller's choice index for every decision of ``arch`` (the first choice
        for an inactive one, the input the LSTM stepped over it with) and which decisions
        are active."""
        full = self.space.complete(arch)
        active = [d.label in arch for d in self.space.decisions]
        indices = [
            d.index(full[d.label]) if on else 0
            for d, on in zip(self.space.decisions, active, strict=True)
        ]
        return indices, active

    def tell(self, observation: Observation) -> None:
        score = observation.score
        if score is None or not math.isfinite(score):
            if self.lowest_ is None:
                return  # nothing to compare a failure with yet
            score = self.lowest_  # a failed trial is as bad as the worst one seen
        indices, active = self.actions(observation.arch)
        self.pending_.append((indices, active, self._advantage(score)))
        if len(self.pending_) >= self.batch_size:
            batch = [(indices, advantage) for indices, _, advantage in self.pending_]
            masks = [active for _, active, _ in self.pending_]
            self._policy().update(batch, self.entropy_weight, masks)
            self.pending_ = []
            self.updates_ += 1

    def log_prob(self, arch: Arch) -> float:
        """The natural log of the probability that the controller now proposes `arch`.

        On a conditional space: the probability of `arch`'s active choices, the LSTM
        stepping over inactive decisions with their first choice (see the module docstring)."""
        import torch

        indices, active = self.actions(arch)
        with torch.no_grad():
            log_prob, _ = self._policy().evaluate(
                torch.tensor([indices], dtype=torch.long), torch.tensor([active])
            )
        return float(log_prob.item())

    # -- helpers ---------------------------------------------------------------------
    def _advantage(self, score: float) -> float:
        """(score - baseline) / std of every score seen; then update both with `score`.

        The baseline is a moving average (`baseline_decay`); the std covers the whole history
        (Welford), so repeated proposals of one arch cannot shrink it and inflate advantages.
        """
        self.lowest_ = score if self.lowest_ is None else min(self.lowest_, score)
        self.count_ += 1
        delta = score - self.mean_
        self.mean_ += delta / self.count_
        self.sum_squares_ += delta * (score - self.mean_)
        if self.baseline_ is None:
            self.baseline_ = score
            return 0.0
        deviation = score - self.baseline_
        self.baseline_ = self.baseline_decay * self.baseline_ + (1 - self.baseline_decay) * score
        std = math.sqrt(self.sum_squares_ / (self.count_ - 1))
        return deviation / std if std > 0 else 0.0

    def _policy(self) -> LSTMPolicy:
        if self._model is None:
            from nasforge.strategy.lstm_policy import LSTMPolicy

            self._model = LSTMPolicy(
                [len(d.choices) for d in self.space.decisions],
                self.hidden_size,
                self.learning_rate,
                self.seed,
            )
        return self._model
