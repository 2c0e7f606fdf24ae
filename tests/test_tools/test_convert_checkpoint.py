"""tools/convert_checkpoint.py: the ports' checkpoints convert exactly.

For each PyTorch port, a checkpoint with exactly its key names and shapes
(``port_references``, written from reading the port's code) and random
values is converted and loaded into the matching config of
``configs/converted/``; the network's heatmaps then equal an independent
functional forward of the port's network on the raw port state dict.
"""
import argparse
import subprocess
import sys

import pytest
import torch
from mmpose.apis import init_model
from port_references import (bearpaw_forward, bearpaw_keys, princeton_forward,
                             princeton_keys, random_state_dict)

from hourglass_plugin.models import checkpoint_conversion as conversion
from tests.conftest import REPO_ROOT, load_tool
from tests.test_models.mpii_samples import mpii_batch

convert = load_tool('convert_checkpoint')

CONFIGS = REPO_ROOT / 'configs' / 'converted'
PRINCETON = 'pytorch_stacked_hourglass'
BEARPAW = 'pytorch_pose'
BEARPAW_MEAN = [0.4404, 0.4440, 0.4327]
#: (format, stacks) -> parameters of the port's network (its state dict
#: less the norm statistics) and of our converted model (docs/checkpoints.md).
#: princeton-vl's difference: its Residuals with in == out width (the stem's
#: (128, 128) and, per stack, 13 in the hourglass and 1 in the features) each
#: keep an unused 1x1 skip_layer conv, 128 * 129 + stacks * 14 * 256 * 257.
PARAMETERS = {
    (PRINCETON, 2): (8_429_088, 6_570_400),
    (PRINCETON, 8): (32_819_328, 25_434_112),
    (BEARPAW, 2): (6_730_912, 6_730_912),
    (BEARPAW, 8): (25_594_624, 25_594_624),
}


def port_checkpoint(fmt: str, stacks: int, seed: int = 0) -> dict:
    """A checkpoint as the port's training code saves it."""
    if fmt == PRINCETON:
        state_dict = random_state_dict(princeton_keys(stacks), seed)
        return dict(state_dict=state_dict, optimizer={}, epoch=120)
    state_dict = random_state_dict(bearpaw_keys(stacks), seed)
    return dict(
        epoch=150,
        arch='hg',
        state_dict=state_dict,
        best_acc=0.88,
        optimizer={})


def unprefixed(state_dict: dict) -> dict:
    """The port's network state dict (its save prefix removed)."""
    return {k.split('module.', 1)[1]: v for k, v in state_dict.items()}


def config_of(fmt: str, stacks: int) -> str:
    name = (f'{PRINCETON}_{stacks}stack_mpii_256.py'
            if fmt == PRINCETON else f'{BEARPAW}_hg{stacks}_mpii_256.py')
    return str(CONFIGS / name)


def reference_heatmaps(fmt: str, sd: dict, rgb: torch.Tensor,
                       stacks: int) -> list:
    """Per-stack heatmaps of the port on (N, 3, H, W) RGB in [0, 255]."""
    with torch.no_grad():
        if fmt == PRINCETON:  # their input: (N, H, W, 3), RGB / 255
            out = princeton_forward(sd, rgb.permute(0, 2, 3, 1) / 255, stacks)
            return list(out.unbind(1))
        mean = torch.tensor(BEARPAW_MEAN).view(1, 3, 1, 1)
        return bearpaw_forward(sd, rgb / 255 - mean, stacks)


def rel_max_diff(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """max |ours - ref| / max |ref|."""
    return float((ours - ref).abs().max() / ref.abs().max())


@pytest.mark.parametrize('fmt,stacks,side', [
    (PRINCETON, 2, 64),
    (BEARPAW, 2, 64),
    pytest.param(PRINCETON, 8, 256, marks=pytest.mark.slow),
    pytest.param(BEARPAW, 8, 256, marks=pytest.mark.slow),
])
def test_port_checkpoint_converts_and_matches_the_port(fmt, stacks, side,
                                                       tmp_path, capfd):
    """2 stacks at 64 px (every layer, fast); 8 stacks at the published
    256 px."""
    ckpt = port_checkpoint(fmt, stacks)
    src, dst = tmp_path / 'port.pth', tmp_path / 'ours.pth'
    torch.save(ckpt, src)
    assert convert.main([str(src), str(dst), '--from', fmt]) == 0
    report = capfd.readouterr().out
    # default config picked by format and stack count
    assert config_of(fmt, stacks) in report

    port_sd = unprefixed(ckpt['state_dict'])
    theirs = sum(v.numel() for k, v in port_sd.items()
                 if not k.endswith(conversion.NORM_BUFFERS))
    saved = torch.load(dst)
    ours = saved['meta']['parameters']
    assert (theirs, ours) == PARAMETERS[(fmt, stacks)]
    assert saved['meta']['source_parameters'] == theirs
    dropped = (f' ({theirs - ours:,} in never-used layers dropped)'
               if fmt == PRINCETON else '')
    assert (f'parameters: {theirs:,} in the source network, {ours:,} in '
            f'ours{dropped}\n') in report
    if fmt == PRINCETON:  # each dropped key is named, with the reason
        assert report.count('uses it only when input and output widths '
                            'differ') == 2 * (1 + 14 * stacks)
        assert 'dropped hgs.0.0.up1.skip_layer.conv.weight (256, 256, 1, 1)' \
            in report
    else:  # every tensor is used: nothing dropped
        assert '  dropped ' not in report
    assert saved['meta']['source_format'] == fmt
    assert saved['meta']['dataset_meta']['dataset_name'] == 'mpii'

    capfd.readouterr()
    model = init_model(config_of(fmt, stacks), str(dst), device='cpu')
    log = ''.join(capfd.readouterr())
    assert 'do not match exactly' not in log  # no missing/unexpected keys
    model.load_state_dict(saved['state_dict'], strict=True)
    assert sum(p.numel() for p in model.parameters()) == ours

    # the config's data preprocessor is the port's input normalisation
    batch = mpii_batch([0, 1], (side, side))
    rgb = torch.stack(batch['inputs']).float().flip(1)  # BGR -> RGB
    inputs = model.data_preprocessor(batch)['inputs']
    expected = rgb / 255
    if fmt == BEARPAW:
        expected = expected - torch.tensor(BEARPAW_MEAN).view(1, 3, 1, 1)
    assert (inputs - expected).abs().max() < 1e-6

    with torch.no_grad():
        heatmaps = model(inputs, None, mode='tensor')
    reference = reference_heatmaps(fmt, port_sd, rgb, stacks)
    assert len(heatmaps) == len(reference) == stacks
    assert reference[-1].std() > 1e-2  # a meaningful comparison
    for ours_s, ref_s in zip(heatmaps, reference):
        assert ours_s.shape == (2, 16, side // 4, side // 4)
        assert rel_max_diff(ours_s, ref_s) <= 1e-5


def test_bearpaw_stem_is_what_their_code_builds():
    """Their layer2 is built after layer1 set self.inplanes to 128: it is
    128 -> 256 (middle 128) with a 1x1 projection, layer3 256 -> 256."""
    shapes = dict(bearpaw_keys(2))
    assert shapes['module.layer1.0.conv1.weight'] == (64, 64, 1, 1)
    assert shapes['module.layer1.0.downsample.0.weight'] == (128, 64, 1, 1)
    assert shapes['module.layer2.0.conv1.weight'] == (128, 128, 1, 1)
    assert shapes['module.layer2.0.conv3.weight'] == (256, 128, 1, 1)
    assert shapes['module.layer2.0.downsample.0.weight'] == (256, 128, 1, 1)
    assert shapes['module.layer2.0.downsample.0.bias'] == (256, )
    assert shapes['module.layer3.0.bn1.weight'] == (256, )
    assert 'module.layer3.0.downsample.0.weight' not in shapes
    assert 'module.res.0.0.downsample.0.weight' not in shapes
    # our converted config builds exactly that stem
    expected = conversion.expected_shapes(config_of(BEARPAW, 2))
    assert expected['backbone.stem.3.conv1.conv.weight'] == (128, 128, 1, 1)
    assert expected['backbone.stem.3.skip.weight'] == (256, 128, 1, 1)
    assert expected['backbone.stem.4.conv1.conv.weight'] == (128, 256, 1, 1)
    assert 'backbone.stem.4.skip.weight' not in expected
    # into a Newell-stem config: refused, with the reason and the fix
    newell = conversion.expected_shapes(config_of(PRINCETON, 2))
    with pytest.raises(conversion.CheckpointMismatchError) as err:
        conversion.convert_state_dict(
            unprefixed(random_state_dict(bearpaw_keys(2))), newell, BEARPAW)
    assert ('shape mismatch: layer2.0.conv1.weight -> backbone.stem.3.conv1.'
            'conv.weight: checkpoint (128, 128, 1, 1), model (64, 128, 1, 1)'
            ) in str(err.value)
    assert str(err.value).endswith(
        'the backbone needs stem_widths=(128, 256, 256), as in '
        'configs/converted/pytorch_pose_hg*_mpii_256.py.')


@pytest.mark.parametrize('fmt', [PRINCETON, BEARPAW])
def test_flip_test_is_the_ports(fmt, tmp_path, capsys):
    """Mirror the crop, flip the last stack's heatmaps back (left/right
    joints swapped), no 1-px shift, average: both ports' test code."""
    ckpt = port_checkpoint(fmt, 2, seed=1)
    src, dst = tmp_path / 'port.pth', tmp_path / 'ours.pth'
    torch.save(ckpt, src)
    convert.main([str(src), str(dst), '--from', fmt])
    model = init_model(config_of(fmt, 2), str(dst), device='cpu')
    model.test_cfg['output_heatmaps'] = True
    batch = mpii_batch([2], (64, 64))
    with torch.no_grad():
        flipped = model.test_step(batch)[0].pred_fields.heatmaps
    rgb = torch.stack(batch['inputs']).float().flip(1)
    port_sd = unprefixed(ckpt['state_dict'])
    plain = reference_heatmaps(fmt, port_sd, rgb, 2)[-1]
    mirrored = reference_heatmaps(fmt, port_sd, rgb.flip(3), 2)[-1]
    flip_indices = model.dataset_meta['flip_indices']
    assert flip_indices[:6] == [5, 4, 3, 2, 1, 0]
    expected = (plain + mirrored.flip(3)[:, flip_indices]) / 2
    assert rel_max_diff(flipped, expected[0]) <= 1e-5


def test_mmpose_format_converts_with_named_drops(tmp_path, capsys):
    """--from mmpose: the unused block and 0.x head names, every dropped
    key named."""
    shapes = conversion.expected_shapes(
        str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py'))
    # zeros broadcast from one value: full shapes, tiny files (HG-52 has 94M)
    state_dict = {
        ('keypoint_head.' + k[len('head.'):] if k.startswith('head.') else k):
        torch.zeros(()).expand(v)
        for k, v in shapes.items()
    }
    state_dict['backbone.inters.0.conv1.weight'] = torch.zeros(256, 256, 3, 3)
    state_dict['data_preprocessor.mean'] = torch.zeros(1, 3, 1, 1)
    src = tmp_path / 'mmpose.pth'
    torch.save(dict(state_dict=state_dict), src)
    assert convert.main(
        [str(src), str(tmp_path / 'ours.pth'), '--from', 'mmpose']) == 0
    report = capsys.readouterr().out
    assert ('dropped backbone.inters.0.conv1.weight (256, 256, 3, 3): the '
            'inter-stack block mmpose builds but never uses with one stack'
            ) in report
    assert 'dropped data_preprocessor.mean (1, 3, 1, 1)' in report
    assert ('parameters: 94,256,784 in the source network, 93,666,960 in '
            'ours (589,824 in never-used layers dropped)') in report
    saved = torch.load(tmp_path / 'ours.pth')
    assert set(saved['state_dict']) == set(shapes)
    assert saved['meta']['dropped_keys'] == [
        'backbone.inters.0.conv1.weight', 'data_preprocessor.mean'
    ]


def test_wrong_format_missing_key_and_wrong_shape_are_named(tmp_path):
    keys = princeton_keys(2)
    state_dict = random_state_dict(keys)
    expected = conversion.expected_shapes(config_of(PRINCETON, 2))
    source = unprefixed(state_dict)
    # a princeton-vl file read as pytorch-pose
    with pytest.raises(conversion.CheckpointMismatchError) as err:
        conversion.convert_state_dict(source, expected, BEARPAW)
    assert 'not a pytorch_pose key: pre.0.conv.weight' in str(err.value)
    assert 'looks like a pytorch_stacked_hourglass checkpoint: pass ' \
        '--from pytorch_stacked_hourglass' in str(err.value)
    # a missing key
    broken = dict(source)
    del broken['hgs.1.0.low1.conv2.conv.weight']
    with pytest.raises(
            conversion.CheckpointMismatchError,
            match='missing in checkpoint: backbone.hourglasses.1.'
            r'low1.conv2.conv.weight'):
        conversion.convert_state_dict(broken, expected, PRINCETON)
    # a wrong shape (17 joints)
    broken = dict(source)
    broken['outs.1.conv.weight'] = torch.zeros(17, 256, 1, 1)
    with pytest.raises(conversion.CheckpointMismatchError) as err:
        conversion.convert_state_dict(broken, expected, PRINCETON)
    assert (
        'shape mismatch: outs.1.conv.weight -> backbone.predictors.1.'
        'weight: checkpoint (17, 256, 1, 1), model (16, 256, 1, 1)') in str(
            err.value)
    # two residual blocks per position (pytorch-pose --blocks 2)
    bearpaw = unprefixed(random_state_dict(bearpaw_keys(2)))
    bearpaw['hg.0.hg.0.0.1.bn1.weight'] = torch.zeros(256)
    with pytest.raises(
            conversion.CheckpointMismatchError,
            match=r'hg\.0\.hg\.0\.0\.1\.bn1\.weight: a second '
            'residual block'):
        conversion.convert_state_dict(bearpaw, expected, BEARPAW)


def test_old_pytorch_checkpoint_without_batch_counters_converts():
    """PyTorch < 0.4.1 (pytorch-pose's era) saved no num_batches_tracked."""
    source = {
        k: v
        for k, v in unprefixed(random_state_dict(bearpaw_keys(2))).items()
        if not k.endswith('num_batches_tracked')
    }
    expected = conversion.expected_shapes(config_of(BEARPAW, 2))
    converted, notes = conversion.convert_state_dict(source, expected, BEARPAW)
    assert set(converted) == set(expected)
    assert any('num_batches_tracked buffers absent from the source' in n
               for n in notes)


def test_command_line_errors_name_the_key_and_write_nothing(tmp_path):
    src = tmp_path / 'bad.pth'
    state_dict = random_state_dict(bearpaw_keys(2))
    state_dict['module.score.1.weight'] = torch.zeros(17, 256, 1, 1)
    torch.save(dict(state_dict=state_dict), src)
    dst = tmp_path / 'out.pth'
    proc = subprocess.run([
        sys.executable,
        str(REPO_ROOT / 'tools' / 'convert_checkpoint.py'),
        str(src),
        str(dst), '--from', BEARPAW
    ],
                          capture_output=True,
                          text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert ('convert_checkpoint.py: error: the pytorch_pose checkpoint does '
            'not fit the model (1 problems)') in proc.stderr
    assert ('shape mismatch: score.1.weight -> backbone.predictors.1.weight'
            ) in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not dst.exists()
    # no default config for a 4-stack file
    torch.save(dict(state_dict=random_state_dict(bearpaw_keys(4))), src)
    with pytest.raises(
            ValueError,
            match='no default config for a '
            'pytorch_pose checkpoint with 4 stacks'):
        convert.main([str(src), str(dst), '--from', BEARPAW])


def test_mean_std_goes_into_meta_and_preprocessor_lines(tmp_path, capsys):
    mean_file = tmp_path / 'mean.pth.tar'
    torch.save(
        dict(
            mean=torch.tensor([0.5, 0.4, 0.3]),
            std=torch.tensor([0.25, 0.24, 0.23])), mean_file)
    src, dst = tmp_path / 'hg2.pth', tmp_path / 'ours.pth'
    torch.save(port_checkpoint(BEARPAW, 2), src)
    convert.main(
        [str(src),
         str(dst), '--from', BEARPAW, '--mean-std',
         str(mean_file)])
    report = capsys.readouterr().out
    assert ('model = dict(data_preprocessor=dict(\n    mean=[127.5000, '
            '102.0000, 76.5000], std=[255., 255., 255.]))') in report
    meta = torch.load(dst)['meta']
    assert meta['mean_std']['mean'] == [0.5, 0.4, 0.3]
    assert meta['mean_std']['std'] == [0.25, 0.24, 0.23]
    # the printed values reproduce the config's default for their file
    assert conversion.preprocessor_lines(BEARPAW_MEAN).endswith(
        'mean=[112.3020, 113.2200, 110.3385], std=[255., 255., 255.]))')
    with pytest.raises(ValueError, match='for --from pytorch_pose only'):
        convert.main([
            str(src),
            str(dst), '--from', PRINCETON, '--mean-std',
            str(mean_file)
        ])
    torch.save(dict(mean=torch.tensor([120., 110., 100.])), mean_file)
    with pytest.raises(ValueError, match='"mean" must hold 3 values in'):
        convert.main([
            str(src),
            str(dst), '--from', BEARPAW, '--mean-std',
            str(mean_file)
        ])


def test_weights_only_refusal_is_explained(tmp_path):
    src = tmp_path / 'pickled.pth'
    torch.save(dict(state_dict={}, meta=dict(args=argparse.Namespace())), src)
    with pytest.raises(
            ValueError,
            match=r'\(argparse.Namespace\)\. If you '
            'trust the file, re-run with --trust-pickle'):
        conversion.load_checkpoint_file(str(src))
    assert conversion.load_checkpoint_file(str(src), trust_pickle=True)
    with pytest.raises(FileNotFoundError):
        conversion.load_checkpoint_file(str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='no state dict of tensors'):
        conversion.source_state_dict(dict(epoch=1), 'x.pth', BEARPAW)
