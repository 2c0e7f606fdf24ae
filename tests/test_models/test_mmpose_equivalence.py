"""An mmpose HG-52 checkpoint loads as it is and gives mmpose's heatmaps.

mmpose's own HG-52 (its model-zoo config, random weights) is saved the way
mmpose publishes checkpoints (including the unused ``backbone.inters.0``
block) and loaded into our configs with ``mmpose.apis.init_model``, with no
conversion: ``CornerHourglassNet``'s state-dict pre-hook drops the unused
block. Both models then predict on a real MPII crop.
"""
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import mmpose
import pytest
import torch
from mmengine.logging import MMLogger
from mmpose.apis import init_model
from mpii_samples import mpii_batch

from tests.conftest import REPO_ROOT

MMPOSE_CONFIGS = (
    Path(mmpose.__file__).parent / '.mim' / 'configs' / 'body_2d_keypoint' /
    'topdown_heatmap' / 'mpii')
CASES = {
    256: ('td-hm_hourglass52_8xb64-210e_mpii-256x256.py',
          'hourglass52_mpii_256.py'),
    384: ('td-hm_hourglass52_8xb32-210e_mpii-384x384.py',
          'hourglass52_mpii_384.py'),
}
DROP_MESSAGE = ('CornerHourglassNet: dropped 12 tensors of backbone.inters.* '
                '(1,180,672 parameters)')


@contextmanager
def current_log() -> Iterator[List[str]]:
    """Messages logged to mmengine's current logger inside the block (a
    fresh INFO-level ``MMLogger``, whatever earlier tests left current)."""
    messages: List[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_instance(
        f'hg52_load_{len(MMLogger._instance_dict)}', log_level='INFO')
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def randomize_norm_statistics(model: torch.nn.Module) -> None:
    """Give every norm layer non-trivial running statistics and affine
    weights, so that equal outputs require equal, correctly placed norms."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)


def predict(model, batch):
    """Flip-test prediction of one sample, and the plain prediction of the
    same run (the last stack's first output is the unflipped image's).

    Returns:
        tuple: plain heatmaps (K, h, w), flip-test heatmaps (K, h, w) and
        flip-test keypoints (K, 2) in image pixels.
    """
    model.test_cfg.update(flip_test=True, output_heatmaps=True)
    head_outputs = []  # the heads call forward() directly: hook the conv
    hook = model.head.multi_final_layers[-1].register_forward_hook(
        lambda module, args, out: head_outputs.append(out[0]))
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    hook.remove()
    assert len(head_outputs) == 2  # original, flipped image
    return (head_outputs[0], sample.pred_fields.heatmaps,
            sample.pred_instances.keypoints[0])


@pytest.mark.slow
@pytest.mark.parametrize('size', [256, 384])
def test_mmpose_checkpoint_loads_directly_with_same_heatmaps(
        size, tmp_path, capfd):
    mmpose_cfg, our_cfg = CASES[size]
    torch.manual_seed(0)
    reference = init_model(str(MMPOSE_CONFIGS / mmpose_cfg), device='cpu')
    randomize_norm_statistics(reference)
    state_dict = reference.state_dict()
    assert sum(k.startswith('backbone.inters.0.') for k in state_dict) == 12
    src = tmp_path / 'mmpose_hg52.pth'
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(dataset_meta=reference.dataset_meta)), src)
    capfd.readouterr()

    with current_log() as messages:
        ours = init_model(
            str(REPO_ROOT / 'configs' / our_cfg), str(src), device='cpu')
    log = ''.join(capfd.readouterr()) + '\n'.join(messages)
    # mmengine prints these on any missing / unexpected key
    assert 'do not match exactly' not in log
    assert 'unexpected key' not in log and 'missing keys' not in log
    assert sum(DROP_MESSAGE in m for m in messages) == 1
    assert type(ours.backbone).__name__ == 'CornerHourglassNet'
    # a strict torch load of the published state dict passes as well
    ours.load_state_dict(torch.load(src)['state_dict'], strict=True)
    # nothing of the unused block is built
    assert not any('inters' in k for k in ours.state_dict())

    batch = mpii_batch([0], (size, size))
    ref_plain, ref_flip, ref_keypoints = predict(reference, batch)
    our_plain, our_flip, our_keypoints = predict(ours, batch)
    assert our_flip.shape == (16, size // 4, size // 4)
    # the comparison is meaningful only if the heatmaps vary
    assert ref_plain.std() > 1e-3
    assert (our_plain - ref_plain).abs().max() <= 1e-5
    assert (our_flip - ref_flip).abs().max() <= 1e-5
    assert abs(our_keypoints - ref_keypoints).max() <= 1e-3


def test_mmpose_0x_head_names_and_two_stacks_load_too():
    """mmpose 0.x names (``keypoint_head.*``, renamed by mmpose's pose
    estimator hook) combine with our hook; with two stacks (HG-104) the
    inter-stack block is used and loaded, nothing is dropped."""
    from mmengine.runner.checkpoint import load_state_dict
    from mmpose.models.backbones import HourglassNet

    from hourglass_plugin.models import CornerHourglassNet

    small = dict(
        downsample_times=2,
        stage_channels=(256, 256, 384),
        stage_blocks=(1, 1, 2))
    theirs = HourglassNet(num_stacks=2, **small)
    ours = CornerHourglassNet(num_stacks=2, **small)
    with current_log() as messages:
        load_state_dict(ours, theirs.state_dict(), strict=True)
    assert not any('dropped' in m for m in messages)
    assert torch.equal(ours.inters[0].conv1.weight,
                       theirs.inters[0].conv1.weight)

    cfg_path = str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py')
    model = init_model(cfg_path, device='cpu')
    old_names = {
        re.sub(r'^head\.', 'keypoint_head.', k): v
        for k, v in model.state_dict().items()
    }
    old_names['backbone.inters.0.conv1.weight'] = torch.zeros(256, 256, 3, 3)
    with current_log() as messages:
        load_state_dict(model, old_names, strict=True)  # raises on mismatch
    assert any(
        'dropped 1 tensors of backbone.inters.* (589,824 parameters)' in m
        for m in messages)


def test_load_from_and_resume_take_mmpose_checkpoints(tmp_path, capfd,
                                                      monkeypatch):
    """The Runner paths (``load_from`` of tools/test.py, ``--resume``) load
    through the same hook: no key warnings, every weight loaded."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    # the Runner logs and dumps its config unformatted (yapf: 5 s here)
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: str(cfg.filename)))

    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py'))
    cfg.work_dir = str(tmp_path / 'work')
    # HG-52's classes and keys at 2 hourglass levels: the same load path
    cfg.model.backbone.update(
        downsample_times=2,
        stage_channels=(256, 256, 384),
        stage_blocks=(1, 1, 2))
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(num_workers=0, persistent_workers=False, batch_size=2)
        loader.dataset.data_root = str(REPO_ROOT / 'data')
    runner = Runner.from_cfg(cfg)
    # an mmpose-format checkpoint: our weights, perturbed, plus mmpose's
    # unused block; Runner meta for --resume
    torch.manual_seed(0)
    state_dict = {
        k: v + torch.rand_like(v) if v.is_floating_point() else v
        for k, v in runner.model.state_dict().items()
    }
    state_dict['backbone.inters.0.conv1.weight'] = torch.zeros(256, 256, 3, 3)
    state_dict['backbone.inters.0.bn1.running_mean'] = torch.zeros(256)
    src = tmp_path / 'mmpose_format.pth'
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(epoch=3, iter=30),
            message_hub=runner.message_hub.state_dict()), src)
    key = 'backbone.out_convs.0.conv.weight'

    for load in (runner.load_checkpoint, lambda path: runner.resume(
            path, resume_optimizer=False, resume_param_scheduler=False)):
        runner.model.backbone.out_convs[0].conv.weight.data.zero_()
        capfd.readouterr()
        with current_log() as messages:
            load(str(src))
        log = ''.join(capfd.readouterr()) + '\n'.join(messages)
        assert 'do not match exactly' not in log
        assert 'dropped 2 tensors of backbone.inters.* (589,824 ' \
            'parameters)' in log
        assert torch.equal(runner.model.state_dict()[key], state_dict[key])
    assert runner.train_loop.epoch == 3 and runner.train_loop.iter == 30
