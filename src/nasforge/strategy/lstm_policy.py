"""`LSTMPolicy`: the LSTM controller of REINFORCE (Zoph & Le, ICLR 2017) and ENAS (Pham et al.,
ICML 2018), shared by the `reinforce` strategy and the ENAS one-shot method.

The controller makes a sequence of categorical decisions one after another: the embedding of
the previous choice is the next input, and each decision has its own softmax head sized to
its choices. ``update`` makes one policy-gradient step, by hand-written Adam, on
``-(advantage * log p(choices)) - entropy_weight * entropy``, averaged over a batch.

ENAS bounds the logits as ``tanh_constant * tanh(logits / temperature)`` (2.5 and 5 in the
ENAS and NAS-Bench-201 code), which keeps every choice's probability away from 0; without
these options the logits are used as they are (the `reinforce` strategy).

Weights are initialized from the seed inside a `torch.random.fork_rng` block, so the
caller's global random state is left alone; sampling draws from the policy's own generator.
Torch is imported at module level: modules that must load without torch import this one
lazily.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

EXACT_MARGINALS_LIMIT = 65_536
"""Up to this many choice sequences, `marginals` enumerates them all; above, it samples."""
MARGINAL_SAMPLES = 4096


class LSTMPolicy:
    """The controller's LSTM, embeddings, heads, optimizer state and sampling generator."""

    def __init__(
        self,
        sizes: Sequence[int],
        hidden_size: int,
        learning_rate: float,
        seed: int,
        *,
        temperature: float | None = None,
        tanh_constant: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        grad_clip: float | None = None,
    ) -> None:
        self.sizes = list(sizes)
        self.hidden_size = hidden_size
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        self.betas = betas
        self.eps = eps
        self.grad_clip = grad_clip
        # Step 0 reads a start token; step i > 0 reads the embedding of choice i-1.
        self.offsets = [1 + sum(self.sizes[:i]) for i in range(len(self.sizes))]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(1 + sum(self.sizes), hidden_size)
            self.cell = nn.LSTMCell(hidden_size, hidden_size)
            self.heads = nn.ModuleList(nn.Linear(hidden_size, size) for size in self.sizes)
            self.parameters = [
                *self.embed.parameters(),
                *self.cell.parameters(),
                *self.heads.parameters(),
            ]
            for parameter in self.parameters:  # a near-uniform first policy, as in ENAS
                nn.init.uniform_(parameter, -0.1, 0.1)
        self.learning_rate = learning_rate
        self.steps = 0
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.parameters]
        self.generator = torch.Generator().manual_seed(seed)

    def _logits(self, step: int, inputs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        state = self.cell(self.embed(inputs), state)
        logits: torch.Tensor = self.heads[step](state[0])
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits, state

    def sample(self) -> list[int]:
        """One choice sequence drawn from the policy."""
        chosen: list[int] = []
        with torch.no_grad():
            inputs = torch.zeros(1, dtype=torch.long)
            state = None
            for step in range(len(self.sizes)):
                logits, state = self._logits(step, inputs, state)
                probs = torch.softmax(logits, dim=-1)
                index = int(torch.multinomial(probs, 1, generator=self.generator).item())
                chosen.append(index)
                inputs = torch.tensor([self.offsets[step] + index])
        return chosen

    def walk(self) -> PolicyWalk:
        """A sampling pass whose caller says which decision to draw next (see `PolicyWalk`)."""
        return PolicyWalk(self)

    def sample_many(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` choice sequences at once, shape ``(count, decisions)``, drawn from
        ``generator`` (so that diagnostics do not move the policy's own sampling)."""
        chosen = torch.zeros(count, len(self.sizes), dtype=torch.long)
        with torch.no_grad():
            inputs = torch.zeros(count, dtype=torch.long)
            state = None
            for step in range(len(self.sizes)):
                logits, state = self._logits(step, inputs, state)
                probs = torch.softmax(logits, dim=-1)
                index = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                chosen[:, step] = index
                inputs = index + self.offsets[step]
        return chosen

    def evaluate(
        self, choices: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy (summed over decisions) of a batch of choice indices.

        ``mask`` (same shape, boolean) leaves out the decisions where it is False: they add
        nothing to either sum (inactive decisions of a conditional space), though their
        choice is still the next step's input."""
        batch = choices.shape[0]
        inputs = torch.zeros(batch, dtype=torch.long)
        state = None
        log_prob = torch.zeros(batch)
        entropy = torch.zeros(batch)
        for step in range(len(self.sizes)):
            logits, state = self._logits(step, inputs, state)
            log_probs = torch.log_softmax(logits, dim=-1)
            step_log_prob = log_probs.gather(1, choices[:, step : step + 1]).squeeze(1)
            step_entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
            if mask is not None:
                keep = mask[:, step]
                step_log_prob = torch.where(keep, step_log_prob, torch.zeros_like(step_log_prob))
                step_entropy = torch.where(keep, step_entropy, torch.zeros_like(step_entropy))
            log_prob = log_prob + step_log_prob
            entropy = entropy + step_entropy
            inputs = choices[:, step] + self.offsets[step]
        return log_prob, entropy

    def marginals(self, seed: int = 0) -> list[npt.NDArray[np.float64]]:
        """The probability of each choice of each decision, summed over the other decisions:
        exact (every sequence enumerated) up to `EXACT_MARGINALS_LIMIT` sequences, else the
        frequencies among `MARGINAL_SAMPLES` samples drawn with ``seed``."""
        total = math.prod(self.sizes)
        counts = [np.zeros(size, dtype=np.float64) for size in self.sizes]
        with torch.no_grad():
            if total <= EXACT_MARGINALS_LIMIT:
                grid = itertools.product(*(range(size) for size in self.sizes))
                choices = torch.tensor(list(grid), dtype=torch.long).reshape(total, -1)
                weights = self.evaluate(choices)[0].double().exp().numpy()
            else:
                choices = self.sample_many(MARGINAL_SAMPLES, torch.Generator().manual_seed(seed))
                weights = np.full(MARGINAL_SAMPLES, 1.0 / MARGINAL_SAMPLES)
        columns = choices.numpy()
        for step, size in enumerate(self.sizes):
            total_weight = np.bincount(columns[:, step], weights=weights, minlength=size)
            counts[step] = np.asarray(total_weight / total_weight.sum(), dtype=np.float64)
        return counts

    def update(
        self,
        batch: list[tuple[list[int], float]],
        entropy_weight: float,
        masks: list[list[bool]] | None = None,
    ) -> None:
        """One Adam step on -(advantage * log p(arch)) - entropy_weight * entropy; ``masks``
        (one per batch entry) leaves decisions out of both, as in `evaluate`."""
        if not self.sizes:
            return
        choices = torch.tensor([indices for indices, _ in batch], dtype=torch.long)
        advantages = torch.tensor([advantage for _, advantage in batch])
        mask = None if masks is None else torch.tensor(masks, dtype=torch.bool)
        log_prob, entropy = self.evaluate(choices, mask)
        loss = -(advantages * log_prob).mean() - entropy_weight * entropy.mean()
        gradients = torch.autograd.grad(loss, self.parameters, allow_unused=True)
        self._adam_step(gradients)

    def _adam_step(self, gradients: Sequence[torch.Tensor | None]) -> None:
        """Adam (Kingma & Ba), by hand: torch.optim's first use imports far more than needed."""
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.learning_rate / (1 - beta1**self.steps)
        correction2 = math.sqrt(1 - beta2**self.steps)
        grads = [
            torch.zeros_like(parameter) if gradient is None else gradient
            for parameter, gradient in zip(self.parameters, gradients, strict=True)
        ]
        if self.grad_clip is not None:
            norm = float(torch.sqrt(sum((g * g).sum() for g in grads)))  # type: ignore[arg-type]
            if norm > self.grad_clip:
                grads = [g * (self.grad_clip / norm) for g in grads]
        with torch.no_grad():
            for parameter, grad, (mean, square) in zip(
                self.parameters, grads, self.moments, strict=True
            ):
                mean.mul_(beta1).add_(grad, alpha=1 - beta1)
                square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denominator = (square.sqrt() / correction2).add_(self.eps)
                parameter.addcdiv_(mean, denominator, value=-step_size)


class PolicyWalk:
    """One pass of the controller through its decisions, drawn one at a time as the caller
    asks for them (a define-by-run space asks only its active decisions).

    ``draw(step)`` first steps over the decisions before ``step`` that were not asked, each
    with its first choice as the next input (no draw: what `LSTMPolicy.evaluate` computes
    for a decision it masks out with that choice), then draws ``step`` from the policy's
    generator. Drawing every step in order is exactly `LSTMPolicy.sample`. A step asked
    after a later one (a space whose asking order is not its decision order) is drawn from
    the current state, and `exact` becomes False: `evaluate` then scores the choices under
    other inputs than they were drawn with. `log_prob` sums the log-probabilities of the
    draws."""

    def __init__(self, policy: LSTMPolicy) -> None:
        self.policy = policy
        self.next_step = 0
        self.state: Any = None
        self.inputs = torch.zeros(1, dtype=torch.long)
        self.log_prob = 0.0
        self.exact = True

    def draw(self, step: int) -> int:
        """The choice index drawn for decision ``step``."""
        policy = self.policy
        # on the CPU whatever the caller's default device: a define-by-run space asks its
        # decisions while its constructor runs under torch.device("meta")
        with torch.no_grad(), torch.device("cpu"):
            while self.next_step < step:  # not asked: stepped over with its first choice
                _, self.state = policy._logits(self.next_step, self.inputs, self.state)
                self.inputs = torch.tensor([policy.offsets[self.next_step]])
                self.next_step += 1
            if step < self.next_step:
                self.exact = False
            logits, state = policy._logits(step, self.inputs, self.state)
            probs = torch.softmax(logits, dim=-1)
            index = int(torch.multinomial(probs, 1, generator=policy.generator).item())
            self.log_prob += float(torch.log(probs[0, index]))
            if step >= self.next_step:
                self.state = state
                self.inputs = torch.tensor([policy.offsets[step] + index])
                self.next_step = step + 1
        return index
