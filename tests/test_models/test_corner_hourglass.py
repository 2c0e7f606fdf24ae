"""CornerHourglassNet: mmpose's HourglassNet (same keys, same outputs)
minus the block it never uses at one stack, with ``norm_cfg`` in every
layer."""
import pytest
import torch
from mmpose.models.backbones import HourglassNet
from torch import nn

from hourglass_plugin.models import CornerHourglassNet

# a 2-level hourglass: same code paths as HG-52, seconds instead of minutes
SMALL = dict(
    downsample_times=2, stage_channels=(256, 256, 384), stage_blocks=(1, 1, 2))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope='module')
def hg52_pair():
    """(mmpose's HG-52 backbone, ours), default arguments, one stack."""
    return HourglassNet(num_stacks=1), CornerHourglassNet(num_stacks=1)


def test_hg52_parameters_are_mmpose_minus_unused_block(hg52_pair):
    theirs, ours = hg52_pair
    unused = n_params(theirs.inters)
    assert unused == 1_180_672  # one 256-channel BasicBlock
    assert n_params(theirs) == 94_843_520
    assert n_params(ours) == n_params(theirs) - unused == 93_662_848


def test_hg52_state_dict_keys_are_mmpose_keys_minus_unused_block(hg52_pair):
    theirs, ours = hg52_pair
    their_shapes = {
        k: v.shape
        for k, v in theirs.state_dict().items() if not k.startswith('inters.')
    }
    assert {k: v.shape for k, v in ours.state_dict().items()} == their_shapes


@pytest.mark.parametrize('num_stacks', [1, 2])
def test_every_parameter_gets_a_gradient(num_stacks):
    torch.manual_seed(0)
    model = CornerHourglassNet(num_stacks=num_stacks, **SMALL)
    feats = model(torch.randn(1, 3, 32, 32))  # 32 = 4 * 2^2
    assert len(feats) == num_stacks
    assert all(f.shape == (1, 256, 8, 8) for f in feats)
    sum(f.square().mean() for f in feats).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []


def test_two_stack_keys_equal_mmpose():
    """HG-104 style: with 2 stacks nothing is unused and keys match."""
    theirs = HourglassNet(num_stacks=2, **SMALL)
    ours = CornerHourglassNet(num_stacks=2, **SMALL)
    assert ({
        k: v.shape
        for k, v in ours.state_dict().items()
    } == {
        k: v.shape
        for k, v in theirs.state_dict().items()
    })


def test_norm_cfg_is_used_by_every_layer():
    gn = dict(type='GN', num_groups=32, requires_grad=True)
    ours = CornerHourglassNet(num_stacks=2, norm_cfg=gn, **SMALL)
    norms = [
        m for m in ours.modules()
        if isinstance(m, (nn.GroupNorm, nn.modules.batchnorm._NormBase))
    ]
    assert norms and all(isinstance(m, nn.GroupNorm) for m in norms)
    assert len(norms) == sum(
        isinstance(m, nn.BatchNorm2d)
        for m in CornerHourglassNet(num_stacks=2, **SMALL).modules())
    out = ours(torch.randn(1, 3, 32, 32))  # and it runs
    assert [tuple(o.shape) for o in out] == [(1, 256, 8, 8)] * 2


def test_same_outputs_as_mmpose_with_same_weights():
    torch.manual_seed(0)
    theirs = HourglassNet(num_stacks=2, **SMALL)
    ours = CornerHourglassNet(num_stacks=2, **SMALL)
    ours.load_state_dict(theirs.state_dict())
    theirs.eval()  # (mmpose's BaseBackbone.train returns None: no chaining)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x)):
            assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize('size', [(100, 128), (128, 96), (200, 200)])
def test_input_side_not_multiple_of_128_is_rejected(hg52_pair, size):
    _, ours = hg52_pair
    with pytest.raises(
            ValueError, match='multiples of its total '
            'down-sampling 128'):
        ours(torch.zeros(1, 3, *size))


def test_wrong_channel_count_is_rejected(hg52_pair):
    _, ours = hg52_pair
    with pytest.raises(ValueError, match='built for 3-channel images; got 1'):
        ours(torch.zeros(1, 1, 128, 128))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        ours(torch.zeros(3, 128, 128))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match='num_stacks'):
        CornerHourglassNet(num_stacks=0)
    with pytest.raises(ValueError, match='equal length'):
        CornerHourglassNet(stage_channels=(256, 256), stage_blocks=(1, ))
    with pytest.raises(ValueError, match='at least 6 stage_channels'):
        CornerHourglassNet(
            downsample_times=5,
            stage_channels=(256, ) * 5,
            stage_blocks=(1, ) * 5)
