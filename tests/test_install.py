"""The pinned stack installed by tools/setup_env.sh works together."""
import subprocess
import sys

import numpy as np
import pytest
import torch


def test_torch_and_torchvision_ops_load():
    import torchvision
    from torchvision.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                          [20., 20., 30., 30.]])
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]
    assert torch.__version__.startswith('2.13.0')
    assert torchvision.__version__.startswith('0.28.0')


def test_mmcv_compiled_ops_run():
    import mmcv
    from mmcv.ops import nms, roi_align
    assert mmcv.__version__ == '2.1.0'
    dets, keep = nms(
        np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]],
                 dtype=np.float32), np.array([0.9, 0.8, 0.7], np.float32), 0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    out = roi_align(feat, torch.tensor([[0., 0., 0., 4., 4.]]), (1, 1), 1.0, 2,
                    'avg', True)
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == pytest.approx(feat.mean().item())


def test_openmmlab_versions_and_numpy_agree():
    import mmdet
    import mmengine
    import mmpose
    import xtcocotools.coco  # noqa: F401  (crashes on a numpy ABI mismatch)
    assert mmengine.__version__.startswith('0.10.')
    assert mmdet.__version__ == '3.3.0'
    assert mmpose.__version__ == '1.3.2'
    assert np.__version__.startswith('1.')


def test_chumpy_not_needed():
    out = subprocess.run([sys.executable, '-m', 'pip', 'show', 'chumpy'],
                         capture_output=True,
                         text=True)
    assert out.returncode != 0, 'chumpy should not be installed'
    import mmpose.apis  # noqa: F401  (imports mmdet and the visualizer)


def test_plugin_registers_into_mmpose_registries():
    from mmengine.registry import MODEL_WRAPPERS
    from mmpose.registry import DATASETS, METRICS, MODELS

    import hourglass_plugin  # noqa: F401
    for name in ('CornerHourglassNet', 'NewellHourglassNet',
                 'StackedHeatmapHead'):
        assert MODELS.get(name) is not None, name
    assert DATASETS.get('MPIIPoseDataset') is not None
    assert METRICS.get('MPIIPCKhMetric') is not None
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is not None
    # mmpose's own classes are not shadowed
    assert MODELS.get('HourglassNet').__module__.startswith('mmpose.')
    assert DATASETS.get('MpiiDataset').__module__.startswith('mmpose.')
    assert METRICS.get('MpiiPCKAccuracy').__module__.startswith('mmpose.')
