"""Fixtures for the fast-inference tests: a small model, real crops, ONNX.

The model is the main job's config (Newell et al.'s network, 2 stacks, 64
features, 128x128 input -> 32x32 heatmaps) with seeded random weights: the
backends must reproduce whatever the network computes, trained or not.
"""
from pathlib import Path

import pytest
import torch

from hourglass_plugin.deploy import crop_sources, dataset_crops, export_onnx
from hourglass_plugin.deploy.model_zoo import load_pose_model

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO_ROOT / 'configs' / 'sample' / (
    'newell_hourglass2_sample_128.py')
TINY_MMPOSE_CONFIG = REPO_ROOT / 'tests' / 'test_benchmark' / (
    'tiny_mmpose_hourglass.py')


@pytest.fixture(scope='session')
def sample_config() -> Path:
    """``configs/sample/newell_hourglass2_sample_128.py`` (ours)."""
    return SAMPLE_CONFIG


@pytest.fixture(scope='session')
def tiny_mmpose_config() -> Path:
    """A tiny mmpose HourglassNet MPII config (not ours: no plugin import)."""
    return TINY_MMPOSE_CONFIG


@pytest.fixture(scope='session')
def sample_model():
    """Seeded random-init model of ``configs/sample/...128.py`` (CPU, eval)."""
    torch.manual_seed(0)
    return load_pose_model(str(SAMPLE_CONFIG), None, device='cpu')


@pytest.fixture(scope='session')
def real_sources(data_dir):
    """Dataset configs of the real crops (data/ MPII and COCO)."""
    sources = crop_sources(data_dir)
    assert {'mpii', 'coco_gt', 'coco_det'} <= set(sources), sources
    return sources


@pytest.fixture(scope='session')
def real_crops(sample_model, real_sources):
    """{source: (2N, 3, 128, 128) crops and their mirrors} for MPII people
    of data/ and the COCO ground-truth people of data/coco_multi."""
    return {
        name: dataset_crops(sample_model, real_sources[name], flip=True)
        for name in ('mpii', 'coco_gt')
    }


@pytest.fixture(scope='session')
def sample_onnx(sample_model, tmp_path_factory) -> str:
    """The sample model exported to ONNX (fp32, dynamic batch)."""
    out = tmp_path_factory.mktemp('onnx') / 'sample.onnx'
    return export_onnx(sample_model, str(out))
