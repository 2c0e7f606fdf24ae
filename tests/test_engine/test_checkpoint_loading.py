"""One strict loading path: files that are not checkpoints are named as
such, checkpoints that do not fit the model are refused with one line
(file, config, first keys), and fitting ones load."""
import os
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from hourglass_plugin.engine import (CheckpointError, init_pose_model,
                                     load_model_checkpoint)
from tests.conftest import SAMPLE_CONFIG


@pytest.fixture(scope='module')
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample config at 16 channels, its model and a checkpoint of it
    (mmengine Runner layout, with dataset_meta in meta)."""
    folder = tmp_path_factory.mktemp('small')
    cfg = Config.fromfile(SAMPLE_CONFIG)
    cfg.model.backbone.feat_channels = 16
    config = str(folder / 'small.py')
    cfg.dump(config)
    model = init_pose_model(config)
    checkpoint = folder / 'small.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(dataset_name='marked'))), checkpoint)
    return dict(config=config, model=model, checkpoint=str(checkpoint))


def not_checkpoints(folder: Path, checkpoint: str) -> dict:
    """Each kind of file that is not a checkpoint -> expected message."""
    data = Path(checkpoint).read_bytes()
    files = {
        'empty.pth': (b'', 'the file is empty (0 bytes)'),
        'truncated.pth':
        (data[:len(data) // 2], 'truncated or corrupt archive '
         '(PytorchStreamReader failed reading zip archive: failed finding '
         'central directory)'),
        'text.pth': (b'hello\n', 'not a PyTorch file (KeyError: 101)'),
        'foreign.pth':
        (pickle.dumps({'f': os.path.join}),
         'a pickle that torch.load(weights_only=True) refuses (Unsupported '
         'operand 149)'),
    }
    out = {}
    for name, (content, what) in files.items():
        (folder / name).write_bytes(content)
        out[str(folder / name)] = what
    sd = torch.load(checkpoint, weights_only=True)['state_dict']
    torch.save({'model': sd}, folder / 'wrapped.pth')
    out[str(folder / 'wrapped.pth')] = (
        'no state dict (parameter name -> tensor) under "state_dict" or at '
        "the top level, whose keys are ['model']")
    torch.save({'f': os.path.join}, folder / 'objects.pth')
    out[str(folder / 'objects.pth')] = (
        'a pickle of Python objects other than tensors, refused by '
        'torch.load(weights_only=True): posixpath.join')
    return out


def test_files_that_are_not_checkpoints_are_named_as_such(small, tmp_path):
    for path, what in not_checkpoints(tmp_path, small['checkpoint']).items():
        with pytest.raises(CheckpointError) as info:
            load_model_checkpoint(small['model'], path)
        assert str(info.value) == f'not a checkpoint: {what} ({path})'
    missing = str(tmp_path / 'missing.pth')
    with pytest.raises(
            CheckpointError, match=f'^checkpoint not found \\({missing}\\)$'):
        init_pose_model(small['config'], missing)


def test_a_checkpoint_of_another_width_or_with_other_keys_is_refused(
        small, tmp_path):
    with pytest.raises(CheckpointError) as info:
        init_pose_model(SAMPLE_CONFIG, small['checkpoint'])
    assert str(info.value) == (
        f'checkpoint does not fit the model of {SAMPLE_CONFIG}: 449 keys '
        'differ in shape (first: backbone.stem.4.conv1.conv.weight '
        'checkpoint (8, 128, 1, 1) model (32, 128, 1, 1), '
        'backbone.stem.4.conv2.conv.weight checkpoint (8, 8, 3, 3) model '
        '(32, 32, 3, 3), backbone.stem.4.conv2.bn.weight checkpoint (8,) '
        f"model (32,)) ({small['checkpoint']})")
    sd = small['model'].state_dict()
    renamed = {k.replace('hourglass', 'hg'): v for k, v in sd.items()}
    path = tmp_path / 'renamed.pth'
    torch.save(renamed, path)
    with pytest.raises(CheckpointError) as info:
        load_model_checkpoint(small['model'], str(path), small['config'])
    message = str(info.value)
    assert message.startswith(
        f"checkpoint does not fit the model of {small['config']}: ")
    assert '; ' in message and ' missing (first: backbone.' in message
    assert ' unexpected (first: backbone.' in message and '.hg' in message
    before = small['model'].state_dict()['backbone.stem.0.conv.weight']
    assert torch.equal(before, sd['backbone.stem.0.conv.weight'])


def test_a_fitting_checkpoint_loads_with_its_meta(small, tmp_path):
    # a plain state dict saved from a DDP wrapper ('module.' prefix) fits
    sd = {
        f'module.{k}': v + 1
        for k, v in small['model'].state_dict().items()
        if v.is_floating_point()
    }
    sd.update({
        f'module.{k}': v
        for k, v in small['model'].state_dict().items()
        if not v.is_floating_point()
    })
    path = tmp_path / 'ddp.pth'
    torch.save(sd, path)
    model = init_pose_model(small['config'], str(path))
    key = 'backbone.stem.0.conv.weight'
    assert torch.equal(model.state_dict()[key], sd[f'module.{key}'])
    assert model.dataset_meta['dataset_name'] == 'mpii'
    model = init_pose_model(small['config'], small['checkpoint'])
    assert model.dataset_meta == dict(dataset_name='marked')
    assert not model.training


def test_the_documented_exceptions_load(tmp_path):
    """An mmpose 0.x HG-52 checkpoint layout (``keypoint_head.*``, the
    unused ``backbone.inters.0.*`` block) fits a one-stack
    CornerHourglassNet (a 16-channel one here): the model's load hooks
    rename and drop those keys; anything else is still refused."""
    cfg = Config.fromfile('configs/hourglass52_mpii_256.py')
    cfg.model.backbone.update(
        downsample_times=1,
        stage_channels=(16, 16),
        stage_blocks=(1, 1),
        feat_channel=16)
    cfg.model.head.in_channels = 16
    config = str(tmp_path / 'tiny_hg52.py')
    cfg.dump(config)
    model = init_pose_model(config)
    old = {}
    for key, value in model.state_dict().items():
        if key.startswith('head.'):
            key = 'keypoint_' + key
        old[key] = value + 1 if value.is_floating_point() else value
    old['backbone.inters.0.conv1.conv.weight'] = torch.zeros(16, 16, 3, 3)
    path = tmp_path / 'mmpose_0x.pth'
    torch.save(dict(state_dict=old), path)
    load_model_checkpoint(model, str(path), config)
    key = 'multi_final_layers.0.weight'
    assert torch.equal(model.state_dict()[f'head.{key}'],
                       old[f'keypoint_head.{key}'])
    old['backbone.extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=old), path)
    with pytest.raises(
            CheckpointError,
            match=r': 1 unexpected \(first: backbone\.extra\.'
            r'weight\) \('):
        load_model_checkpoint(model, str(path), config)
