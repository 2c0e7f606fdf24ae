"""Real MPII person crops for the model tests, made with mmpose's pipeline.

Reads the embedded sample (data/annotations/mpii_val.json, HRNet format,
1-based MATLAB pixels) the way mmpose's ``MpiiDataset`` does (box centre
moved down by 15/200 of the scale, 1-based -> 0-based), then runs mmpose's
``LoadImage``, ``GetBBoxCenterScale`` (padding 1.25), ``TopdownAffine`` and,
for training batches, ``GenerateTarget`` with an ``MSRAHeatmap`` codec.
"""
import json
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
from mmengine.dataset import pseudo_collate
from mmpose.datasets import MpiiDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.datasets.transforms import (GenerateTarget, GetBBoxCenterScale,
                                        LoadImage, PackPoseInputs,
                                        TopdownAffine)
from mmpose.structures.bbox import bbox_cs2xyxy

DATA_DIR = Path(__file__).resolve().parents[2] / 'data'
MPII_META = parse_pose_metainfo(dict(MpiiDataset.METAINFO))


def mpii_person(index: int) -> Dict:
    """mmpose data info of person ``index`` of data/annotations/mpii_val.json.

    Raises:
        IndexError: If the file has no record ``index``.
    """
    records = json.loads(
        (DATA_DIR / 'annotations' / 'mpii_val.json').read_text())
    if not 0 <= index < len(records):
        raise IndexError(f'mpii_val.json has {len(records)} records, '
                         f'no index {index}')
    rec = records[index]
    scale = np.full((1, 2), rec['scale'] * 200., dtype=np.float32)
    center = np.array(rec['center'], dtype=np.float32).reshape(1, 2)
    center[0, 1] += 15. / 200. * scale[0, 1]
    center -= 1  # 1-based MATLAB -> 0-based pixels
    return dict(
        img_path=str(DATA_DIR / 'images' / rec['image']),
        bbox_center=center,
        bbox_scale=scale,
        bbox=bbox_cs2xyxy(center, scale),
        bbox_score=np.ones(1, dtype=np.float32),
        keypoints=np.array(rec['joints'], np.float32).reshape(1, -1, 2) - 1,
        keypoints_visible=np.array(rec['joints_vis'], np.float32)[None],
        flip_indices=MPII_META['flip_indices'],
        dataset_name='mpii')


def mpii_batch(indices: Sequence[int],
               input_size: Tuple[int, int],
               with_target: bool = False) -> Dict:
    """A collated batch of real MPII crops (``inputs``, ``data_samples``).

    Args:
        indices (Sequence[int]): Person indices in
            data/annotations/mpii_val.json, one per sample.
        input_size (tuple[int, int]): (W, H) of the crops in pixels.
        with_target (bool): Add MSRA heatmap targets (sigma 2, heatmaps at
            input_size / 4) and keypoint weights, for ``mode='loss'``.

    Returns:
        dict: ``inputs`` (uint8 tensors (3, H, W), BGR) and
        ``data_samples`` (PoseDataSample), ready for a data preprocessor.
    """
    transforms = [
        LoadImage(),
        GetBBoxCenterScale(),
        TopdownAffine(input_size=input_size)
    ]
    if with_target:
        codec = dict(
            type='MSRAHeatmap',
            input_size=input_size,
            heatmap_size=(input_size[0] // 4, input_size[1] // 4),
            sigma=2)
        transforms.append(GenerateTarget(encoder=codec))
    transforms.append(PackPoseInputs())
    samples = []
    for index in indices:
        results = mpii_person(index)
        for transform in transforms:
            results = transform(results)
        samples.append(results)
    return pseudo_collate(samples)
