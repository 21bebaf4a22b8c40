"""The mlp and conv1d spaces: network shapes, parameter counts, canonical forms, input checks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.space import Conv1DSpace, MLPSpace, NB201Space, make_space


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, above all on a shared, busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mlp_arch(space: MLPSpace, depth: int, widths: list[int], **rest: object) -> Arch:
    choices: dict[str, object] = {"depth": depth}
    choices.update({f"width_{i}": w for i, w in enumerate(widths)})
    choices.update({"activation": "relu", "dropout": 0.0, "norm": "none"})
    choices.update(rest)
    return space.validate(Arch(choices))  # type: ignore[arg-type]


def conv_arch(
    space: Conv1DSpace, depth: int, blocks: list[tuple[int, int]], pool: str, skip: bool
) -> Arch:
    choices: dict[str, object] = {"depth": depth}
    for i, (channels, kernel) in enumerate(blocks):
        choices.update({f"channels_{i}": channels, f"kernel_{i}": kernel})
    choices.update({"pool": pool, "skip": skip})
    return space.validate(Arch(choices))  # type: ignore[arg-type]


# -- mlp -----------------------------------------------------------------------------------


def test_mlp_decision_labels() -> None:
    space = MLPSpace(max_layers=3)
    labels = [d.label for d in space.decisions]
    assert labels == ["depth", "width_0", "width_1", "width_2", "activation", "dropout", "norm"]
    assert space.decisions[0].choices == (1, 2, 3)


def test_mlp_parameter_count_by_hand() -> None:
    space = MLPSpace(max_layers=2, widths=(3, 5))
    arch = mlp_arch(space, 2, [3, 5])
    # input (2, 2) flattens to 4: Linear 4->3, Linear 3->5, head 5->2 (weights + biases)
    plain = (4 * 3 + 3) + (3 * 5 + 5) + (5 * 2 + 2)
    assert n_params(space.build(arch, (2, 2), num_classes=2)) == plain
    batch = mlp_arch(space, 2, [3, 5], norm="batch")
    assert n_params(space.build(batch, (2, 2), num_classes=2)) == plain + 2 * 3 + 2 * 5
    one = mlp_arch(space, 1, [5, 3], norm="layer")
    assert n_params(space.build(one, (4,), num_classes=2)) == (4 * 5 + 5) + 2 * 5 + (5 * 2 + 2)


def test_mlp_depth_sets_the_number_of_linear_layers() -> None:
    space = MLPSpace(max_layers=4, widths=(4,))
    for depth in range(1, 5):
        model = space.build(mlp_arch(space, depth, [4] * 4, dropout=0.1), (6,), 3)
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        assert len(linears) == depth + 1
        assert sum(isinstance(m, nn.Dropout) for m in model.modules()) == depth


def test_mlp_canonical_merges_inactive_layers_only() -> None:
    space = MLPSpace(max_layers=3, widths=(8, 16))
    first = mlp_arch(space, 1, [16, 8, 16])
    second = mlp_arch(space, 1, [16, 16, 8])
    assert first != second
    assert space.canonical(first) == space.canonical(second) == mlp_arch(space, 1, [16, 8, 8])
    active = mlp_arch(space, 2, [16, 8, 16])
    assert space.canonical(active) != space.canonical(mlp_arch(space, 2, [16, 16, 16]))


def test_mlp_accepts_any_input_shape() -> None:
    space = MLPSpace(max_layers=1, widths=(4,))
    arch = space.sample(np.random.default_rng(0))
    for shape in [(1,), (20,), (1, 40), (3, 8, 8)]:
        space.check_input(shape)
        assert space.build(arch, shape, 2)(torch.randn(2, *shape)).shape == (2, 2)
    with pytest.raises(SpaceError, match="mlp"):
        space.check_input(())


def test_mlp_bad_options_and_archs() -> None:
    with pytest.raises(SpaceError):
        MLPSpace(max_layers=0)
    with pytest.raises(SpaceError):
        MLPSpace(activations=("relu", "swish"))
    with pytest.raises(SpaceError):
        make_space("mlp", dropouts=[0.5, 1.0])
    space = MLPSpace(max_layers=1, widths=(4,))
    with pytest.raises(ArchError):
        space.build(Arch({"depth": 1}), (4,), 2)


# -- conv1d --------------------------------------------------------------------------------


def test_conv1d_decision_labels() -> None:
    labels = [d.label for d in Conv1DSpace(max_blocks=2).decisions]
    assert labels == ["depth", "channels_0", "kernel_0", "channels_1", "kernel_1", "pool", "skip"]


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_conv1d_pooling_halves_the_length(pool: str) -> None:
    space = Conv1DSpace(max_blocks=3, channels=(4,), kernels=(3,))
    model = space.build(conv_arch(space, 3, [(4, 3)] * 3, pool, False), (1, 40), 2)
    blocks = model[:-3]  # all but global pool, flatten and head
    assert blocks(torch.randn(2, 1, 40)).shape == (2, 4, 5)  # 40 -> 20 -> 10 -> 5
    plain = space.build(conv_arch(space, 3, [(4, 3)] * 3, "none", False), (1, 40), 2)
    assert not any(isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)) for m in plain.modules())


def test_conv1d_pools_only_while_the_length_allows() -> None:
    space = Conv1DSpace(max_blocks=3, channels=(4,), kernels=(3,))
    model = space.build(conv_arch(space, 3, [(4, 3)] * 3, "max", False), (2, 3), 2)
    assert sum(isinstance(m, nn.MaxPool1d) for m in model.modules()) == 1  # 3 -> 1, then none
    assert model(torch.randn(2, 2, 3)).shape == (2, 2)


def test_conv1d_skip_adds_parameters_only_when_channels_differ() -> None:
    space = Conv1DSpace(max_blocks=2, channels=(4, 8), kernels=(3,))

    def count(blocks: list[tuple[int, int]], skip: bool, in_channels: int) -> int:
        arch = conv_arch(space, 2, blocks, "none", skip)
        return n_params(space.build(arch, (in_channels, 16), 2))

    same = [(4, 3), (4, 3)]
    assert count(same, True, 4) == count(same, False, 4)
    # a 1x1 shortcut without bias for 1 -> 4 and for 4 -> 8
    assert count([(4, 3), (8, 3)], True, 1) == count([(4, 3), (8, 3)], False, 1) + 1 * 4 + 4 * 8


def test_conv1d_parameter_count_by_hand() -> None:
    space = Conv1DSpace(max_blocks=1, channels=(4,), kernels=(5,))
    model = space.build(conv_arch(space, 1, [(4, 5)], "avg", False), (2, 10), 3)
    # conv 2->4 k5 without bias, BatchNorm (4 + 4), head 4->3 with bias
    assert n_params(model) == 2 * 4 * 5 + 8 + (4 * 3 + 3)


def test_conv1d_canonical_merges_inactive_blocks_only() -> None:
    space = Conv1DSpace(max_blocks=2, channels=(4, 8), kernels=(3, 5))
    first = conv_arch(space, 1, [(8, 5), (8, 5)], "max", True)
    second = conv_arch(space, 1, [(8, 5), (4, 3)], "max", True)
    assert first != second and space.canonical(first) == space.canonical(second) == second
    deep = conv_arch(space, 2, [(8, 5), (8, 5)], "max", True)
    assert (
        space.canonical(deep)
        == deep
        != space.canonical(conv_arch(space, 2, [(8, 5), (4, 5)], "max", True))
    )


def test_conv1d_rejects_images_with_a_one_line_message() -> None:
    space = Conv1DSpace()
    with pytest.raises(SpaceError) as error:
        space.check_input((1, 8, 8))
    message = str(error.value)
    assert "\n" not in message
    assert "'conv1d'" in message and "(channels, length)" in message and "(1, 8, 8)" in message
    with pytest.raises(SpaceError):
        space.build(space.sample(np.random.default_rng(0)), (1, 8, 8), 2)
    with pytest.raises(SpaceError):
        space.check_input((1, 0))


def test_nb201_rejects_sequences() -> None:
    with pytest.raises(SpaceError, match="nb201"):
        NB201Space().check_input((1, 40))


def test_conv1d_bad_options() -> None:
    with pytest.raises(SpaceError, match="odd"):
        Conv1DSpace(kernels=(3, 4))
    with pytest.raises(SpaceError):
        make_space("conv1d", pools=["max", "lp"])
    with pytest.raises(SpaceError):
        Conv1DSpace(max_blocks=0)
