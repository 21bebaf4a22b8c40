"""DARTS: differentiable architecture search (Liu, Simonyan and Yang, ICLR 2019).

Every module (and input) choice mixes all its candidates, weighted by the softmax of its
vector of alpha. Each step first updates alpha on a
batch of the architecture half, then the weights on a batch of the weights' half:

- first order: the gradient of the validation loss at the current weights;
- second order: the gradient of the unrolled objective
  ``L_val(w', alpha)`` with ``w' = w - xi * (m * buffer + grad_w L_train(w, alpha) + wd * w)``,
  ``xi`` the weights' current learning rate, ``m * buffer`` their momentum and ``wd`` their
  weight decay (as in the DARTS and NAS-Bench-201 code); the Hessian-vector product is the
  central finite difference with ``epsilon = 0.01 / ||grad_w' L_val||``.

As in NAS-Bench-201's DARTS runs, BatchNorm of the candidate ops keeps no running statistics
by default (``xautodl`` leaves ``--track_running_stats`` unset for DARTS).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from nasforge.oneshot.arch_weights import gradients
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace

Batch = tuple[torch.Tensor, torch.Tensor]
SECOND_ORDER_OVERHEAD = 2.2


class DARTS(OneShotMethod):
    """DARTS, first (``order=1``, "DARTS-V1") or second order (``order=2``, "DARTS-V2")."""

    name = "darts"
    default_track_running_stats = False

    def __init__(
        self, space: SearchSpace, *, order: int = 1, hvp_scale: float = 0.01, **options: Any
    ) -> None:
        super().__init__(space, **options)
        if order not in (1, 2):
            raise OneShotError(f"DARTS order must be 1 or 2, not {order}")
        if not hvp_scale > 0:
            raise OneShotError(f"hvp_scale must be > 0, not {hvp_scale}")
        self.order = order
        self.hvp_scale = hvp_scale

    @property
    def state_copies(self) -> int:
        """Weights, gradients, momentum; second order adds a backup, the momentum terms, the
        training gradients and v."""
        return 3 if self.order == 1 else 7

    @property
    def process_overhead(self) -> float:
        """Second-order steps fragment memory more (measured 1.8-2.2x the tensors' peak)."""
        return super().process_overhead if self.order == 1 else SECOND_ORDER_OVERHEAD

    # -- how alpha drives the supernet ---------------------------------------------------
    def _regularization(self) -> torch.Tensor | None:
        """A term added to the architecture loss (none for DARTS)."""
        return None

    def _arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.supernet_.use_weights(softmax(self._logits()))
        loss = self._cross_entropy(x, y)
        penalty = self._regularization()
        return loss if penalty is None else loss + penalty

    def _use_weight_mode(self) -> None:
        self.supernet_.use_weights(softmax(self._logits(), detach=True))

    def _use_eval_mode(self) -> None:
        self._use_weight_mode()

    def _memory_probes(self, supernet: SuperNet, alpha: Alpha) -> Sequence[Probe]:
        def mixed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            supernet.use_weights(softmax(alpha))
            return F.cross_entropy(supernet(x), y)

        return [mixed]

    # -- second order --------------------------------------------------------------------
    def _arch_gradient(
        self, x: torch.Tensor, y: torch.Tensor, x_arch: torch.Tensor, y_arch: torch.Tensor
    ) -> tuple[Alpha, float]:
        if self.order == 1:
            return super()._arch_gradient(x, y, x_arch, y_arch)
        optimizer = self.trainer_.optimizer
        assert optimizer is not None  # set by the trainer for the fit under way
        group = optimizer.param_groups[0]
        params = [p for p in self.supernet_.parameters() if p.requires_grad]
        momentum = []
        for p in params:
            buffer = optimizer.state.get(p, {}).get("momentum_buffer")
            momentum.append(None if buffer is None else group["momentum"] * buffer)
        gradient, loss = unrolled_hypergradient(
            self.supernet_,
            self.alpha_,
            lambda a: softmax({k: v + self.exclude_mask_[k] for k, v in a.items()}),
            (x, y),
            (x_arch, y_arch),
            xi=float(group["lr"]),
            weight_decay=float(group["weight_decay"]),
            momentum=momentum,
            hvp_scale=self.hvp_scale,
        )
        penalty = self._regularization()
        if penalty is not None:
            extra = gradients(penalty, self.alpha_)
            gradient = {label: g + extra[label] for label, g in gradient.items()}
            loss += float(penalty.detach())
        return gradient, loss


def softmax(alpha: Alpha, *, detach: bool = False) -> Alpha:
    """The softmax of each vector of ``alpha`` (of its detached copy with ``detach``)."""
    return {
        label: torch.softmax(vector.detach() if detach else vector, dim=-1)
        for label, vector in alpha.items()
    }


def unrolled_hypergradient(
    supernet: SuperNet,
    alpha: Alpha,
    weights_of: Callable[[Alpha], Alpha],
    train_batch: Batch,
    valid_batch: Batch,
    *,
    xi: float,
    weight_decay: float = 0.0,
    momentum: Sequence[torch.Tensor | None] | None = None,
    hvp_scale: float = 0.01,
) -> tuple[Alpha, float]:
    """Second-order DARTS: the gradient in ``alpha`` (one vector per decision) of
    ``L_val(w', alpha)``, where ``w' = w - xi * (momentum + grad_w L_train(w, alpha) +
    weight_decay * w)``, and ``L_val(w', alpha)`` itself. The supernet's parameters are left
    as they were.

    ``d/dalpha = grad_alpha L_val(w', alpha) - xi * H v`` with ``v = grad_w' L_val(w', alpha)``
    and ``H v = (grad_alpha L_train(w + e v) - grad_alpha L_train(w - e v)) / 2e``,
    ``e = hvp_scale / ||v||`` (Liu et al., eqs. 7-8).
    """
    params = [p for p in supernet.parameters() if p.requires_grad]
    labels = list(alpha)
    vectors = [alpha[label] for label in labels]
    x_train, y_train = train_batch
    x_valid, y_valid = valid_batch

    def train_loss(mixing: Alpha) -> torch.Tensor:
        supernet.use_weights(mixing)
        return F.cross_entropy(supernet(x_train), y_train)

    detached = {label: vector.detach() for label, vector in alpha.items()}
    grads = _grad(train_loss(weights_of(detached)), params)
    original = [p.detach().clone() for p in params]
    with torch.no_grad():
        terms = momentum if momentum is not None else [None] * len(params)
        for p, g, m in zip(params, grads, terms, strict=True):
            step = g + weight_decay * p
            p.sub_(xi * (step if m is None else step + m))
    supernet.use_weights(weights_of(alpha))
    valid_loss = F.cross_entropy(supernet(x_valid), y_valid)
    everything = _grad(valid_loss, [*vectors, *params])
    direct, v = everything[: len(vectors)], everything[len(vectors) :]
    norm = torch.sqrt(sum((t * t).sum() for t in v))  # type: ignore[arg-type]
    implicit = [torch.zeros_like(vector) for vector in vectors]
    if float(norm) > 0:
        epsilon = hvp_scale / norm
        sides = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, w, d in zip(params, original, v, strict=True):
                    p.copy_(w + sign * epsilon * d)
            sides.append(_grad(train_loss(weights_of(alpha)), vectors))
        implicit = [(plus - minus) / (2 * epsilon) for plus, minus in zip(*sides, strict=True)]
    with torch.no_grad():
        for p, w in zip(params, original, strict=True):
            p.copy_(w)
    supernet.use_weights(weights_of(detached))
    gradient = {label: d - xi * h for label, d, h in zip(labels, direct, implicit, strict=True)}
    return gradient, float(valid_loss.detach())


def _grad(loss: torch.Tensor, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``loss`` in ``inputs``; zeros for inputs the loss does not use."""
    grads = torch.autograd.grad(loss, list(inputs), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads, strict=True)]


class DARTS2(DARTS):
    """Second-order DARTS ("DARTS-V2") by its own name, for users who pick by string."""

    name = "darts2"

    def __init__(self, space: SearchSpace, **options: Any) -> None:
        super().__init__(space, order=2, **options)
