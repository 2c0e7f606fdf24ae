"""Every pose config in configs/ builds its model, datasets and evaluator."""

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.conftest import REPO_ROOT

POSE_CONFIGS = sorted(
    str(p.relative_to(REPO_ROOT))
    for p in (REPO_ROOT / 'configs').rglob('*.py')
    if '_base_' not in p.parts and 'mmdet' not in p.parts)


def test_expected_configs_exist():
    assert {
        'configs/hourglass52_mpii_256.py', 'configs/hourglass52_mpii_384.py',
        'configs/newell_hourglass8_mpii_256.py',
        'configs/sample/newell_hourglass2_sample_128.py'
    } <= set(POSE_CONFIGS)


@pytest.mark.parametrize('config', POSE_CONFIGS)
def test_config_builds_model_dataset_evaluator(config):
    from mmpose.registry import DATASETS, METRICS, MODELS
    cfg = Config.fromfile(str(REPO_ROOT / config))
    init_default_scope('mmpose')
    size = cfg.codec['input_size']
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        heatmaps = model(
            torch.zeros(1, 3, size[1], size[0]), None, mode='tensor')
    expected = (1, 16, cfg.codec['heatmap_size'][1],
                cfg.codec['heatmap_size'][0])
    assert tuple(heatmaps[-1].shape if isinstance(heatmaps, (
        list, tuple)) else heatmaps.shape) == expected
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
        ds_cfg.data_root = str(REPO_ROOT / 'data')
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) == 5
        item = dataset[0]
        assert tuple(item['inputs'].shape) == (3, size[1], size[0])
        if split == 'train':
            assert tuple(item['data_samples'].gt_fields.heatmaps.shape) == \
                (16, *expected[2:])
    metric = METRICS.build(cfg.val_evaluator)
    assert metric is not None
    assert cfg.default_hooks.checkpoint.save_best == 'PCK'
    assert cfg.auto_scale_lr.base_batch_size > 0
