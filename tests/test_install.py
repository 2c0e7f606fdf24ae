"""The installed stack works together: compiled ops run, the OpenMMLab
packages import each other, the versions are within setup.cfg's ranges and
the plugin's modules are in mmpose's and mmengine's registries."""
import configparser
from importlib.metadata import version

import numpy as np
import pytest
import torch
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT


def install_requires() -> list:
    """setup.cfg's ``install_requires`` as ``Requirement`` objects."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / 'setup.cfg')
    lines = cfg['options']['install_requires'].strip().splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def test_installed_versions_are_within_setup_cfg_ranges():
    requirements = install_requires()
    names = {r.name for r in requirements}
    assert {'torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose'} <= names
    outside = [
        f'{r.name} {version(r.name)} not in {r.specifier}'
        for r in requirements
        if not r.specifier.contains(version(r.name), prereleases=True)
    ]
    assert outside == []


def test_torch_onnx_export_takes_the_dynamo_flag():
    """The ONNX exporter passes ``dynamo=False`` (torch >= 2.5)."""
    import inspect
    assert 'dynamo' in inspect.signature(torch.onnx.export).parameters


def test_torchvision_ops_run():
    from torchvision.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]


def test_mmcv_compiled_ops_run():
    from mmcv.ops import nms, roi_align
    dets, keep = nms(
        np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]],
                 dtype=np.float32), np.array([0.9, 0.8, 0.7], np.float32), 0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    out = roi_align(feat, torch.tensor([[0., 0., 0., 4., 4.]]), (1, 1), 1.0, 2,
                    'avg', True)
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == pytest.approx(feat.mean().item())


def test_openmmlab_packages_import_together():
    """mmpose's APIs (which import mmdet and the visualizer) and the COCO
    tools compiled against numpy import, whether or not mmpose's optional
    ``chumpy`` is installed."""
    import mmpose.apis  # noqa: F401
    import xtcocotools.coco  # noqa: F401  (crashes on a numpy ABI mismatch)
    from mmdet.apis import init_detector  # noqa: F401


def test_plugin_registers_into_mmpose_registries():
    from mmengine.registry import HOOKS, MODEL_WRAPPERS
    from mmpose.registry import DATASETS, METRICS, MODELS

    import hourglass_plugin  # noqa: F401
    for name in ('CornerHourglassNet', 'NewellHourglassNet',
                 'StackedHeatmapHead', 'ForegroundWeightedMSELoss'):
        assert MODELS.get(name).__module__.startswith('hourglass_plugin.')
    assert DATASETS.get('MPIIPoseDataset').__module__.startswith(
        'hourglass_plugin.')
    assert METRICS.get('MPIIPCKhMetric').__module__.startswith(
        'hourglass_plugin.')
    for name in ('KeypointOriginCheckHook', 'EpochSeedHook',
                 'NonFiniteLossHook', 'PreemptionCheckpointHook'):
        assert HOOKS.get(name).__module__.startswith('hourglass_plugin.')
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel'
                              ).__module__.startswith('hourglass_plugin.')
    # mmpose's own classes are not shadowed
    assert MODELS.get('HourglassNet').__module__.startswith('mmpose.')
    assert DATASETS.get('MpiiDataset').__module__.startswith('mmpose.')
    assert METRICS.get('MpiiPCKAccuracy').__module__.startswith('mmpose.')
