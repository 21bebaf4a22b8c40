"""The gradients of the one-shot methods: second-order DARTS, GDAS's sampler, Beta-Decay."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasforge.oneshot import SuperNet, beta_decay, gumbel_hard, unrolled_hypergradient
from nasforge.space import NB201Space
from nasforge.space.nb201.space import LABELS

XI, WEIGHT_DECAY = 0.5, 0.01


def tiny_double_supernet() -> SuperNet:
    torch.manual_seed(0)
    space = NB201Space(channels=2, cells_per_stage=1)
    net = space.supernet((1, 4, 4), 3, track_running_stats=False)
    return net.double().train()


def by_label(matrix: torch.Tensor) -> dict[str, torch.Tensor]:
    """One row per NB201 edge, as architecture weights by label."""
    return dict(zip(LABELS, matrix, strict=True))


def softmax(alpha: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {label: torch.softmax(a, dim=-1) for label, a in alpha.items()}


def batches() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(12, 1, 4, 4, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=generator)
    return (x[:6], y[:6]), (x[6:], y[6:])


def unrolled_objective(net: SuperNet, alpha: torch.Tensor) -> float:
    """``L_val(w - xi * (grad_w L_train(w, alpha) + wd * w), alpha)``, computed directly."""
    (x_train, y_train), (x_valid, y_valid) = batches()
    params = list(net.parameters())
    original = [p.detach().clone() for p in params]
    net.use_weights(softmax(by_label(alpha)))
    grads = torch.autograd.grad(F.cross_entropy(net(x_train), y_train), params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.sub_(XI * (g + WEIGHT_DECAY * p))
        value = float(F.cross_entropy(net(x_valid), y_valid))
        for p, w in zip(params, original, strict=True):
            p.copy_(w)
    return value


def test_second_order_hypergradient_matches_finite_differences_of_the_unrolled_loss() -> None:
    net = tiny_double_supernet()
    alpha = (0.5 * torch.randn((6, 5), generator=torch.Generator().manual_seed(2))).double()
    alpha.requires_grad_()
    train, valid = batches()
    before = [p.detach().clone() for p in net.parameters()]
    gradients, loss = unrolled_hypergradient(
        net,
        by_label(alpha),
        softmax,
        train,
        valid,
        xi=XI,
        weight_decay=WEIGHT_DECAY,
        # DARTS's 0.01 / ||v|| moves the weights by 0.01, across ReLU kinks of this tiny
        # net; in double precision a smaller step checks the formula itself
        hvp_scale=1e-5,
    )
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before, strict=True))
    gradient = torch.stack([gradients[label] for label in LABELS])
    assert abs(loss - unrolled_objective(net, alpha.detach())) < 1e-12

    h = 1e-6
    numeric = torch.zeros_like(alpha)
    for index in range(alpha.numel()):
        shift = torch.zeros_like(alpha).view(-1)
        shift[index] = h
        shift = shift.view_as(alpha)
        plus = unrolled_objective(net, alpha.detach() + shift)
        minus = unrolled_objective(net, alpha.detach() - shift)
        numeric.view(-1)[index] = (plus - minus) / (2 * h)
    torch.testing.assert_close(gradient, numeric, rtol=1e-3, atol=1e-6)

    # the implicit (second-order) term matters: the first-order gradient is far off
    net.use_weights(softmax(by_label(alpha)))
    (first_order,) = torch.autograd.grad(F.cross_entropy(net(valid[0]), valid[1]), [alpha])
    assert (first_order - numeric).abs().max() > 100 * (gradient - numeric).abs().max()


def test_gumbel_hard_sample_is_one_hot_with_the_soft_gradient() -> None:
    alpha = torch.randn(6, 5, requires_grad=True)
    hard, index = gumbel_hard(alpha, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(hard.detach().argmax(dim=-1), index)
    torch.testing.assert_close(hard.detach().sum(dim=-1), torch.ones(6))
    assert set(hard.detach().round().unique().tolist()) == {0.0, 1.0}
    hard[torch.arange(6), index].sum().backward()
    assert alpha.grad is not None and (alpha.grad != 0).all()  # through the softmax


def test_gumbel_samples_follow_the_softmax_of_alpha() -> None:
    alpha = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(3)
    for _ in range(3000):
        counts[gumbel_hard(alpha, 1.0, generator)[1]] += 1
    torch.testing.assert_close(counts / 3000, torch.tensor([0.7, 0.2, 0.1]), atol=0.03, rtol=0)


def test_beta_decay_is_mean_logsumexp_with_softmax_gradient() -> None:
    alpha = torch.randn(6, 5, requires_grad=True)
    value = beta_decay(alpha)
    torch.testing.assert_close(value, torch.log(alpha.exp().sum(dim=-1)).mean())
    value.backward()
    assert alpha.grad is not None
    torch.testing.assert_close(alpha.grad, torch.softmax(alpha.detach(), dim=-1) / 6)


def test_gumbel_and_beta_decay_take_one_vector_per_decision_of_any_size() -> None:
    alpha = {"a": torch.randn(2, requires_grad=True), "b": torch.randn(4, requires_grad=True)}
    hard, index = gumbel_hard(alpha, 1.0, torch.Generator().manual_seed(0))
    assert {label: len(v) for label, v in hard.items()} == {"a": 2, "b": 4}
    for label, vector in hard.items():
        assert int(vector.detach().argmax()) == index[label] and float(vector.detach().sum()) == 1.0
    rows = torch.stack([torch.zeros(3), torch.zeros(3)])
    torch.testing.assert_close(beta_decay({"a": rows[0], "b": rows[1]}), beta_decay(rows))
    value = beta_decay(alpha)
    expected = (torch.logsumexp(alpha["a"], 0) + torch.logsumexp(alpha["b"], 0)) / 2
    torch.testing.assert_close(value, expected)
