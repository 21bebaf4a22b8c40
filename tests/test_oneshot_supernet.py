"""The NB201 supernet (the generic `ChoiceSuperNet` of the NB201 network's choices): mixed
ops, single paths, children with inherited weights, PC-DARTS, and its speed tricks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.space import MLPSpace, NB201Space
from nasforge.space.choices.mixed import MixedModule, Zero, box_average_3x3, channel_shuffle
from nasforge.space.choices.mode import SuperMode
from nasforge.space.choices.supernet import ChoiceSuperNet
from nasforge.space.nb201.net import NB201Network, make_op
from nasforge.space.nb201.space import OPS

SPACE = NB201Space(channels=4, cells_per_stage=1)
SHAPE = (1, 8, 8)


def supernet(seed: int = 0, **options: object) -> ChoiceSuperNet:
    torch.manual_seed(seed)
    net = SPACE.supernet(SHAPE, 10, **options)  # type: ignore[arg-type]
    assert isinstance(net, ChoiceSuperNet)
    return net


def randomize_batchnorm(net: torch.nn.Module, seed: int) -> None:
    """Give every BatchNorm non-trivial running statistics (and affine parameters)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                if module.track_running_stats:
                    assert module.running_mean is not None and module.running_var is not None
                    module.running_mean.copy_(torch.randn(n, generator=generator))
                    module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.randn(n, generator=generator))
                    module.bias.copy_(torch.randn(n, generator=generator))


def one_hot(net: ChoiceSuperNet, arch: Arch, scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {label: scale * torch.eye(len(OPS))[i] for label, i in net.path_of(arch).items()}


def candidates(**batchnorm: bool) -> MixedModule:
    """The 5 NB201 ops of one edge as a module choice."""
    ops = {name: make_op(name, 4) or Zero() for name in OPS}
    return MixedModule("edge", ops, SuperMode(batchnorm=batchnorm))


ARCHS = [
    SPACE.parse(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    ),
    SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
    SPACE.parse("|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"),
    *(SPACE.sample(np.random.default_rng(seed)) for seed in range(4)),
]


# -- the mixed op ------------------------------------------------------------------------


def test_mixed_op_equals_the_weighted_sum_of_its_candidate_ops() -> None:
    torch.manual_seed(0)
    mixed = candidates(affine=False, track_running_stats=True).train()
    x = torch.randn(6, 4, 8, 8)
    weights = torch.softmax(torch.randn(len(OPS)), dim=0)
    direct = weights[OPS.index("none")] * torch.zeros_like(x)
    for name, module in mixed.candidates.items():  # each op called as a plain module
        direct = direct + weights[OPS.index(name)] * module(x)
    mixed.mode.weights = {"edge": weights}
    torch.testing.assert_close(mixed(x), direct, rtol=1e-6, atol=1e-6)
    assert not mixed.candidates["nor_conv_3x3"][2].affine  # the supernet's BatchNorm options


def test_mixed_op_gradient_reaches_every_weight_but_none() -> None:
    mixed = candidates(affine=False, track_running_stats=False)
    weights = torch.full((len(OPS),), 0.2, requires_grad=True)
    mixed.mode.weights = {"edge": weights}
    mixed(torch.randn(2, 4, 8, 8)).square().sum().backward()
    assert weights.grad is not None
    assert weights.grad[OPS.index("none")] == 0
    assert (weights.grad[[OPS.index(n) for n in OPS if n != "none"]] != 0).all()


def test_box_average_equals_average_pooling_without_padding_counts() -> None:
    x = torch.randn(3, 5, 7, 6)
    expected = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    torch.testing.assert_close(box_average_3x3(x), expected, rtol=0, atol=1e-6)


# -- supernet vs child -------------------------------------------------------------------


@pytest.mark.parametrize("track_running_stats", [True, False])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: SPACE.format(a))
def test_one_hot_supernet_equals_child_with_inherited_weights(
    arch: Arch, track_running_stats: bool
) -> None:
    net = supernet(1, track_running_stats=track_running_stats)
    randomize_batchnorm(net, 2)
    child = net.child(arch)
    assert isinstance(child, NB201Network) and child.ops == SPACE.ops(arch)
    x = torch.randn(5, *SHAPE)
    net.use_weights(one_hot(net, arch))
    modes = ["train", "eval"] if track_running_stats else ["train"]
    for mode in modes:  # train: batch statistics; eval: the inherited running statistics
        net.train(mode == "train")
        child.train(mode == "train")
        with torch.no_grad():
            assert torch.equal(net(x), child(x)), mode
            net.use_path(arch)
            assert torch.equal(net(x), child(x)), mode
            net.use_weights(one_hot(net, arch))


def test_child_gets_gamma_one_beta_zero_for_non_affine_supernet_batchnorm() -> None:
    net = supernet(affine=False)
    arch = ARCHS[0]
    child = net.child(arch)
    conv = child.cells[0].edges[0]  # the first cell's nor_conv_3x3 on edge 0
    assert torch.equal(conv[2].weight, torch.ones(4))
    assert torch.equal(conv[2].bias, torch.zeros(4))
    source = net.net.cells[0].edges[0].candidates["nor_conv_3x3"]
    assert torch.equal(conv[1].weight, source[1].weight)


def test_affine_supernet_passes_its_affine_parameters_on() -> None:
    net = supernet(affine=True)
    randomize_batchnorm(net, 3)
    arch = ARCHS[0]
    x = torch.randn(4, *SHAPE)
    net.use_path(arch)
    net.eval()
    child = net.child(arch).eval()
    with torch.no_grad():
        assert torch.equal(net(x), child(x))


def test_path_mode_runs_only_the_chosen_ops() -> None:
    net = supernet()
    arch = ARCHS[2]  # no convolution anywhere in the cells
    net.use_path(arch)
    calls = []
    for module in net.net.cells.modules():
        if isinstance(module, torch.nn.Conv2d) and module.kernel_size == (1, 1):
            module.register_forward_hook(lambda *args: calls.append(1))
    net(torch.randn(2, *SHAPE))
    assert len(calls) == 2  # only the two residual reductions' shortcut convolutions


def test_path_with_weights_scales_each_chosen_op() -> None:
    net = supernet().eval()
    arch = ARCHS[0]
    x = torch.randn(3, *SHAPE)
    weights = {label: torch.full((len(OPS),), 2.0) for label in net.labels}
    with torch.no_grad():
        net.use_path(arch, weights=weights)
        doubled = net(x)
        net.use_weights(one_hot(net, arch, 2.0))
        assert torch.equal(doubled, net(x))


def test_path_can_add_the_unselected_weights_as_xautodl_gdas_does() -> None:
    """The unselected ops' weights add nothing to the output (a hard sample's are zero), but
    each gets its edge output's summed gradient, the same for every unselected op of an edge;
    without the option they get no gradient, and the chosen ops' gradients do not change."""
    net = supernet().eval()
    arch = ARCHS[0]
    edges, ops = len(net.labels), len(OPS)
    chosen = torch.tensor(list(net.path_of(arch).values()))
    unselected = torch.ones((edges, ops), dtype=torch.bool)
    unselected[torch.arange(edges), chosen] = False
    x = torch.randn(3, *SHAPE)
    outputs, gradients = [], []
    for add_unselected in (False, True):
        weights = {k: v.requires_grad_(True) for k, v in one_hot(net, arch).items()}
        net.use_path(arch, weights=weights, add_unselected=add_unselected)
        out = net(x)
        out.square().sum().backward()
        outputs.append(out.detach())
        grads = [weights[label].grad for label in net.labels]
        gradients.append(torch.stack([torch.zeros(ops) if g is None else g for g in grads]))
    plain, added = gradients
    assert torch.equal(outputs[0], outputs[1])
    assert torch.equal(plain[unselected], torch.zeros(int(unselected.sum())))
    per_edge = added[unselected].view(edges, ops - 1)
    torch.testing.assert_close(per_edge, per_edge[:, :1].expand_as(per_edge))
    assert (per_edge.abs() > 0).any()
    rows = torch.arange(edges)
    torch.testing.assert_close(added[rows, chosen], plain[rows, chosen])
    with pytest.raises(ArchError, match="add_unselected needs"):
        net.use_path(arch, add_unselected=True)


def test_modes_reject_malformed_weights_and_paths() -> None:
    net = supernet()
    with pytest.raises(ArchError, match=r"shape \(5,\)"):
        net.use_weights({label: torch.zeros(6) for label in net.labels})
    with pytest.raises(ArchError, match="missing for node3_in2"):
        net.use_weights({label: torch.zeros(5) for label in net.labels[:5]})
    with pytest.raises(ArchError, match=r"path index 5 of 'node1_in0' is not in \[0, 5\)"):
        net.use_path({"node1_in0": 5})
    with pytest.raises(ArchError, match="conv_7x7"):
        net.use_path(ARCHS[0].replace(node1_in0="conv_7x7"))


def test_arch_round_trips_through_op_indices() -> None:
    net = supernet()
    for arch in ARCHS:
        assert net.arch_of(net.path_of(arch)) == arch
    alpha = {label: torch.eye(len(OPS))[OPS.index("skip_connect")] for label in net.labels}
    assert set(net.argmax_arch(alpha).values()) == {"skip_connect"}


# -- partial channels (PC-DARTS) -----------------------------------------------------------


def test_argmax_can_leave_out_ops_as_darts_derivation_leaves_out_none() -> None:
    net = supernet()
    rows = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0]] * 6)
    rows[1] = torch.tensor([0.0, 1.0, 5.0, 2.0, 4.0])
    alpha = dict(zip(net.labels, rows, strict=True))
    assert set(net.argmax_arch(alpha).values()) == {"none", "nor_conv_1x1"}
    without_none = net.argmax_arch(alpha, exclude=("none",))
    assert [without_none[label] for label in net.labels] == ["skip_connect"] + ["nor_conv_1x1"] + [
        "skip_connect"
    ] * 4
    without_two = net.argmax_arch(alpha, exclude=("none", "skip_connect"))
    assert set(without_two.values()) == {"nor_conv_1x1"}
    assert net.argmax_arch(alpha, exclude=OPS) == net.argmax_arch(alpha)  # nothing left out


def test_channel_shuffle_is_a_permutation_that_interleaves_groups() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)
    shuffled = channel_shuffle(x, 2).flatten().tolist()
    assert shuffled == [0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]


def test_partial_channels_supernet_runs_and_has_smaller_ops() -> None:
    full, partial = supernet(), supernet(partial_channels=2)
    x = torch.randn(3, *SHAPE)
    assert partial(x).shape == (3, 10)
    n_full = sum(p.numel() for p in full.parameters())
    n_partial = sum(p.numel() for p in partial.parameters())
    assert n_partial < n_full
    with pytest.raises(SpaceError, match="partial_channels=2"):
        partial.child(ARCHS[0])
    with pytest.raises(SpaceError, match="divide channels=4"):
        supernet(partial_channels=3)


# -- the space side ----------------------------------------------------------------------


def test_which_decisions_are_op_choices_is_explicit() -> None:
    assert SPACE.op_decisions() == tuple(SPACE.decisions)
    mlp = MLPSpace()
    assert mlp.op_decisions() == ()
    with pytest.raises(SpaceError, match="space 'mlp' has no op choices") as error:
        mlp.supernet((16,), 3)
    assert "\n" not in str(error.value)


def test_spaces_import_nothing_of_oneshot() -> None:
    """One mechanism, no circle: the supernet is the space's (`ChoiceSuperNet`)."""
    import ast
    from pathlib import Path

    import nasforge.space

    for path in Path(nasforge.space.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("nasforge.oneshot"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("nasforge.oneshot") for a in node.names)
