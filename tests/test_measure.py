"""`nasforge.measure`: parameter and multiply-accumulate counts checked by hand, and the
layering (the package below `evaluate/` and `proxies/` imports nothing of nasforge)."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from nasforge.measure import count_flops, count_parameters, measure_latency_ms


def test_convolution_and_linear_count_one_per_multiply_accumulate() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8 x 8 x 8 outputs, 3 x 3 x 3 each
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    assert count_flops(model, (3, 8, 8)) == 8 * 8 * 8 * 27 + 128 * 10
    assert count_parameters(model) == (8 * 27 + 8) + (8 + 8) + (128 * 10 + 10)


def test_depthwise_convolution_counts_its_groups() -> None:
    depthwise = nn.Conv2d(16, 16, 5, padding=2, groups=16, bias=False)
    assert count_flops(depthwise, (16, 8, 8)) == 16 * 8 * 8 * 25


class _FunctionalAttention(nn.Module):
    """Matrix products outside any nn.Linear: a hook on modules would miss them."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, tokens, 6)
        query = x @ self.weight
        return torch.softmax(query @ x.transpose(1, 2), dim=-1) @ x


def test_functional_matrix_products_count() -> None:
    tokens, width = 4, 6
    expected = tokens * width * width + tokens * tokens * width + tokens * tokens * width
    assert count_flops(_FunctionalAttention(), (tokens, width)) == expected


def test_counting_leaves_the_mode_and_latency_is_positive() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.train()
    count_flops(model, (4,))
    assert model.training
    model.eval()
    assert measure_latency_ms(model, (4,), repeats=3, warmup=1) > 0
    assert not model.training


def test_measure_imports_nothing_else_of_nasforge() -> None:
    code = (
        "import sys, nasforge.measure, nasforge.proxies.size\n"
        "print(sorted(m for m in sys.modules if m.startswith(('nasforge.evaluate', "
        "'nasforge.oneshot')) or (m.startswith('nasforge.') and 'measure' not in m "
        "and 'proxies' not in m "
        "and m not in ('nasforge.arch', 'nasforge.device', 'nasforge.errors'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
