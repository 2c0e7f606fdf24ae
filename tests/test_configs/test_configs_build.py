"""Every pose config in configs/ builds the model, datasets and evaluator it
describes: stacks, widths and parameter counts, heatmaps at 1/4 of the
input, 0-based MPII data, the PCKh metric's settings and the learning-rate
scaling base of its published batch."""
import re
from typing import Dict, Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.conftest import REPO_ROOT

POSE_CONFIGS = sorted(
    str(p.relative_to(REPO_ROOT))
    for p in (REPO_ROOT / 'configs').rglob('*.py')
    if '_base_' not in p.parts and 'mmdet' not in p.parts)

#: What each config builds: backbone class, stacks, channels of each stack's
#: output (the head's input), parameters of backbone + head (None: converted
#: configs, counted by the conversion tests), and the published run's batch
#: as (processes, images per process).
EXPECTED: Dict[str, dict] = {
    'configs/hourglass52_mpii_256.py':
    dict(
        backbone='CornerHourglassNet',
        stacks=1,
        channels=256,
        params=93_666_960,
        batch=(8, 64)),
    'configs/hourglass52_mpii_384.py':
    dict(
        backbone='CornerHourglassNet',
        stacks=1,
        channels=256,
        params=93_666_960,
        batch=(8, 32)),
    'configs/newell_hourglass8_mpii_256.py':
    dict(
        backbone='NewellHourglassNet',
        stacks=8,
        channels=16,
        params=25_373_632,
        batch=(1, 6)),
    'configs/sample/newell_hourglass2_sample_128.py':
    dict(
        backbone='NewellHourglassNet',
        stacks=2,
        channels=16,
        params=540_832,
        batch=(1, 5)),
}


def expected(config: str) -> dict:
    """``EXPECTED[config]``; a converted port (Newell's network with the
    stack count in its name, Newell's recipe) otherwise."""
    if config in EXPECTED:
        return EXPECTED[config]
    stacks = re.search(r'(?:hg|_)(\d+)(?:stack)?_mpii', config)
    assert config.startswith('configs/converted/') and stacks, (
        f'{config}: add it to EXPECTED')
    return dict(
        backbone='NewellHourglassNet',
        stacks=int(stacks.group(1)),
        channels=16,
        params=None,
        batch=(1, 6))


def test_expected_configs_exist():
    assert set(EXPECTED) <= set(POSE_CONFIGS)


def smallest_input(backbone: str) -> int:
    """The smallest input side the backbone takes (its total stride)."""
    return {'CornerHourglassNet': 128, 'NewellHourglassNet': 64}[backbone]


@pytest.mark.parametrize('config', POSE_CONFIGS)
def test_config_builds_what_it_describes(config):
    from mmpose.registry import DATASETS, METRICS, MODELS
    want = expected(config)
    cfg = Config.fromfile(str(REPO_ROOT / config))
    init_default_scope('mmpose')

    # the model: stacks, widths, parameters, stride 4
    model = MODELS.build(cfg.model).eval()
    assert type(model.backbone).__name__ == want['backbone']
    assert model.backbone.num_stacks == want['stacks']
    assert model.head.num_stages == want['stacks']
    assert (model.head.in_channels, model.head.out_channels) == \
        (want['channels'], 16)
    params: Optional[int] = want['params']
    if params is not None:
        assert sum(p.numel() for p in model.parameters()) == params
    input_w, input_h = cfg.codec['input_size']
    assert tuple(cfg.codec['heatmap_size']) == (input_w // 4, input_h // 4)
    side = smallest_input(want['backbone'])
    with torch.no_grad():
        heatmaps = model(torch.zeros(1, 3, side, side), None, mode='tensor')
    assert isinstance(heatmaps, (list, tuple)) and \
        len(heatmaps) == want['stacks']
    assert tuple(heatmaps[-1].shape) == (1, 16, side // 4, side // 4)
    assert cfg.model.test_cfg.flip_test is True

    # the data: 0-based MPII people at the codec's sizes
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        ds_cfg.data_root = str(REPO_ROOT / 'data')
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) == 5
        assert dataset.metainfo['keypoint_origin'] == '0-based'
        item = dataset[0]
        assert tuple(item['inputs'].shape) == (3, input_h, input_w)
        if split == 'train':
            assert tuple(item['data_samples'].gt_fields.heatmaps.shape) == \
                (16, input_h // 4, input_w // 4)

    # the evaluator: PCKh@0.5, mmpose 1.x's rules, accepts the dataset
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        metric = METRICS.build(evaluator)
        assert type(metric).__name__ == 'MPIIPCKhMetric'
        assert (metric.thr, metric.weighted, metric.inclusive) == \
            (0.5, True, False)
        metric.dataset_meta = dataset.metainfo  # raises on a mismatch
    assert (cfg.default_hooks.checkpoint.save_best,
            cfg.default_hooks.checkpoint.rule) == ('PCK', 'greater')

    # --auto-scale-lr: the base is the published total batch
    processes, per_process = want['batch']
    assert cfg.train_dataloader.batch_size == per_process
    assert cfg.auto_scale_lr.base_batch_size == processes * per_process
