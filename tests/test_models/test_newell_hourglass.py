"""NewellHourglassNet: Newell et al. 2016's stacked hourglass."""
import pytest
import torch
from torch import nn

from hourglass_plugin.models import NewellHourglassNet
from hourglass_plugin.models.backbones.newell_hourglass import (
    NewellHourglassModule, PreActBottleneck)

# few channels, 2 levels: the same code paths, fast on CPU
SMALL = dict(num_keypoints=16, feat_channels=32, depth=2)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def meta_params(**kwargs) -> int:
    """Parameters of a NewellHourglassNet built on the meta device (no
    memory, no initialisation: counting a full-size network is instant)."""
    with torch.device('meta'):
        return n_params(NewellHourglassNet(**kwargs))


def test_eight_stack_parameter_count():
    with torch.device('meta'):
        model = NewellHourglassNet(num_stacks=8)
    total = n_params(model)
    assert total == 25_373_632
    assert abs(total - 25.1e6) / 25.1e6 < 0.02  # the paper's network
    # per stack: hourglass 13 residuals + residual + lin + 1x1 prediction
    residual = n_params(PreActBottleneck(256, 256, dict(type='BN')))
    hourglass = n_params(NewellHourglassModule(4, 256, dict(type='BN')))
    assert hourglass == 13 * residual


def test_shapes_and_one_heatmap_set_per_stack():
    model = NewellHourglassNet(num_stacks=3, **SMALL)
    heatmaps = model(torch.randn(2, 3, 64, 64))  # sides: multiples of 16
    assert len(heatmaps) == 3
    assert all(h.shape == (2, 16, 16, 16) for h in heatmaps)


def test_stack_input_adds_remapped_features_and_predictions():
    """Fig. 4 right: stack s+1 sees stack s's features and predictions."""
    torch.manual_seed(0)
    model = NewellHourglassNet(num_stacks=2, **SMALL)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.prediction_remaps[0].weight.add_(0.5)
        after = model(x)
    assert torch.equal(before[0], after[0])
    assert not torch.allclose(before[1], after[1])

    # ...and the remapped predictions are exactly stack 0's heatmaps
    seen = {}
    model.prediction_remaps[0].register_forward_hook(
        lambda m, inputs, out: seen.update(pred=inputs[0]))
    with torch.no_grad():
        heatmaps = model(x)
    assert torch.equal(seen['pred'], heatmaps[0])


def test_every_parameter_gets_a_gradient():
    model = NewellHourglassNet(num_stacks=2, **SMALL)
    sum(h.square().mean() for h in model(torch.randn(1, 3, 64, 64))).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_residual_is_pre_activation_bottleneck():
    block = PreActBottleneck(128, 256, dict(type='BN'))
    assert block.conv1.order == ('norm', 'act', 'conv')
    assert (block.conv1.conv.in_channels, block.conv1.conv.out_channels,
            block.conv2.conv.kernel_size,
            block.conv3.conv.out_channels) == (128, 128, (3, 3), 256)
    assert block.conv1.norm.num_features == 128  # norm before the conv
    assert isinstance(block.skip, nn.Conv2d)
    assert isinstance(
        PreActBottleneck(256, 256, dict(type='BN')).skip, nn.Identity)


def test_bad_inputs_and_arguments_are_rejected():
    model = NewellHourglassNet(num_stacks=1, **SMALL)  # multiples of 16
    with pytest.raises(
            ValueError, match='multiples of its total '
            'down-sampling 16'):
        model(torch.zeros(1, 3, 24, 32))
    with pytest.raises(ValueError, match='3-channel images; got 4'):
        model(torch.zeros(1, 4, 32, 32))
    with pytest.raises(ValueError, match='num_stacks'):
        NewellHourglassNet(num_stacks=0)
    with pytest.raises(ValueError, match='depth'):
        NewellHourglassNet(depth=0)


def test_conv_bias_adds_exactly_the_ports_biases():
    """conv_bias=True: a bias on the stem conv, every residual branch conv
    and each per-stack feature conv (the PyTorch ports' layout); the default
    network is unchanged."""
    import warnings
    with warnings.catch_warnings(), torch.device('meta'):
        warnings.simplefilter('error')  # mmcv's bias warning is silenced
        model = NewellHourglassNet(num_stacks=8, conv_bias=True)
    total = n_params(model)
    # 64 (stem) + residuals 64->128, 128->128: 64+64+128 each, 128->256:
    # 128+128+256; per stack 14 residuals x (128+128+256) + 256 (features)
    assert total - 25_373_632 == 64 + 2 * 256 + 512 + 8 * (14 * 512 + 256)
    assert total == 25_434_112
    assert meta_params(num_stacks=2, conv_bias=True) == 6_570_400
    assert model.stem[0].conv.bias is not None
    assert model.out_features[0][1].conv.bias is not None
    block = model.hourglasses[0].up1
    assert all(
        c.conv.bias is not None
        for c in (block.conv1, block.conv2, block.conv3))
    # nothing dead: no skip conv where the widths are equal
    assert isinstance(block.skip, nn.Identity)
    with torch.device('meta'):
        default = NewellHourglassNet(num_stacks=1)
    assert default.stem[0].conv.bias is None
    assert default.hourglasses[0].up1.conv1.conv.bias is None


def test_stem_widths_build_the_bearpaw_stem():
    """stem_widths=(128, 256, 256): residuals 64->128 (middle 64), 128->256
    (middle 128, 1x1 projection), 256->256 (middle 128, identity); the rest
    of the network and the default stem are unchanged."""
    with torch.device('meta'):
        newell = NewellHourglassNet(num_stacks=1)
        bearpaw = NewellHourglassNet(num_stacks=1, stem_widths=(128, 256, 256))
    assert newell.stem_widths == (128, 128, 256)

    def widths(block):
        return (block.conv1.conv.in_channels, block.conv1.conv.out_channels,
                block.conv3.conv.out_channels, type(block.skip).__name__)

    assert [widths(newell.stem[i])
            for i in (1, 3, 4)] == [(64, 64, 128, 'Conv2d'),
                                    (128, 64, 128, 'Identity'),
                                    (128, 128, 256, 'Conv2d')]
    assert [widths(bearpaw.stem[i])
            for i in (1, 3, 4)] == [(64, 64, 128, 'Conv2d'),
                                    (128, 128, 256, 'Conv2d'),
                                    (256, 128, 256, 'Identity')]
    assert [k for k in bearpaw.state_dict() if not k.startswith('stem.')
            ] == [k for k in newell.state_dict() if not k.startswith('stem.')]
    # the stem's 2nd and 3rd residuals: 128->256 and 256->256 in place of
    # 128->128 and 128->256
    bn = dict(type='BN')
    extra = (
        n_params(PreActBottleneck(256, 256, bn)) -
        n_params(PreActBottleneck(128, 128, bn)))
    assert extra == 214_016 - 53_760
    assert meta_params(num_stacks=8, stem_widths=(128, 256, 256)) - \
        meta_params(num_stacks=8) == extra
    assert meta_params(
        num_stacks=8, conv_bias=True, stem_widths=(128, 256, 256)) \
        == 25_594_624
    assert meta_params(
        num_stacks=2, conv_bias=True, stem_widths=(128, 256, 256)) \
        == 6_730_912
    # small networks run with any widths
    out = NewellHourglassNet(
        num_stacks=1, stem_widths=(16, 48, 32), **SMALL)(
            torch.randn(1, 3, 32, 32))
    assert out[0].shape == (1, 16, 8, 8)


@pytest.mark.parametrize('widths', [(128, 256), (128, 256, 128),
                                    (128, 7, 256)])
def test_bad_stem_widths_are_rejected(widths):
    with pytest.raises(
            ValueError,
            match=r'stem_widths must be 3 positive even widths ending with '
            r'feat_channels=256; got \(128'):
        NewellHourglassNet(num_stacks=1, stem_widths=widths)
