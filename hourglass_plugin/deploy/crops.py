"""Real person crops, pre-processed as the model sees them at test time.

int8 calibration and the keypoint-agreement check need real inputs (noise
has other activation ranges): an mmpose dataset run through the model's test
pipeline and ``data_preprocessor``. The caller names a data root laid out as
the repository's ``data/``; :func:`crop_sources` lists what it holds:
``mpii`` (``annotations/mpii_val.json`` + ``images/``), ``coco_gt``
(``coco_multi/test_coco.json`` person boxes) and ``coco_det`` (the same
images' detector boxes, ``test_coco_det_AP_H_56.json``, score >= 0.5: int8
calibrates on these, so calibration and agreement never share boxes).
"""
import os.path as osp
from pathlib import Path
from typing import Dict, Optional, Union

import torch
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn

#: what :func:`calibration_crops` accepts: crops, a data root, or a dataset
#: config (without pipeline)
CalibData = Union[Tensor, str, Path, dict]
#: sources tried, in order, when calibrating from a data root
CALIBRATION_SOURCES = ('coco_det', 'mpii')


def crop_sources(data_root: Union[str, Path]) -> Dict[str, dict]:
    """Source name (``mpii``, ``coco_gt``, ``coco_det``) -> mmpose dataset
    config (without pipeline), for the sources whose files exist under
    ``data_root`` (see the module docstring); empty when none do."""
    root = Path(data_root).resolve()
    coco = root / 'coco_multi'
    sources = {}
    if (root / 'annotations' / 'mpii_val.json').is_file():
        sources['mpii'] = dict(
            type='MpiiDataset',
            ann_file=str(root / 'annotations' / 'mpii_val.json'),
            data_prefix=dict(img=str(root / 'images') + '/'))
    if (coco / 'test_coco.json').is_file():
        sources['coco_gt'] = dict(
            type='CocoDataset',
            ann_file=str(coco / 'test_coco.json'),
            data_prefix=dict(img=str(coco) + '/'))
        if (coco / 'test_coco_det_AP_H_56.json').is_file():
            sources['coco_det'] = dict(
                type='CocoDataset',
                ann_file=str(coco / 'test_coco.json'),
                bbox_file=str(coco / 'test_coco_det_AP_H_56.json'),
                filter_cfg=dict(bbox_score_thr=0.5),
                data_prefix=dict(img=str(coco) + '/'))
    return sources


def dataset_crops(pose_model: nn.Module,
                  dataset_cfg: dict,
                  flip: bool = False,
                  max_crops: Optional[int] = None) -> Tensor:
    """(N, 3, H, W) float32 normalised crops (the model's input size, on its
    device) of every person of an mmpose dataset config without pipeline
    (e.g. from :func:`crop_sources`), made by the model's test pipeline and
    ``data_preprocessor``; with ``flip`` the mirrored crops are appended
    (2N, what the flip test feeds the network); ``max_crops`` keeps the
    first ones.

    Raises:
        ValueError: If the dataset yields no person.
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    cfg = dict(
        dataset_cfg,
        data_mode='topdown',
        test_mode=True,
        pipeline=pose_model.cfg.test_dataloader.dataset.pipeline)
    dataset = DATASETS.build(cfg)
    count = len(dataset) if max_crops is None else min(max_crops, len(dataset))
    if count == 0:
        raise ValueError('no person in dataset '
                         f'{osp.basename(str(cfg.get("ann_file")))}')
    batch = pseudo_collate([dataset[i] for i in range(count)])
    with torch.no_grad():
        inputs = pose_model.data_preprocessor(batch, False)['inputs'].float()
    return torch.cat([inputs, inputs.flip(-1)]) if flip else inputs


def calibration_crops(pose_model: nn.Module, calib_data: CalibData) -> Tensor:
    """(N, 3, H, W) float32 normalised crops for int8 calibration from
    ``calib_data``: crops, used as given; a data root (e.g. ``data/``): its
    ``coco_det`` boxes, else its ``mpii`` people, plus mirrors; or an mmpose
    dataset config without pipeline (plus mirrors).

    Raises:
        ValueError: ``calib_data`` is None, or crops that are not
            (N >= 1, 3, H, W).
        FileNotFoundError: A data root holding none of the sources.
        TypeError: Any other type.
    """
    if calib_data is None:
        raise ValueError(
            'static int8 needs calibration data: pass calib_data=(N, 3, H, W) '
            'real crops, a data root such as the repository\'s data/, or an '
            'mmpose dataset config')
    if isinstance(calib_data, Tensor):
        if calib_data.dim() != 4 or calib_data.shape[0] == 0 or \
                calib_data.shape[1] != 3:
            raise ValueError('calibration crops must be (N>=1, 3, H, W), got '
                             f'shape {tuple(calib_data.shape)}')
        return calib_data.float()
    if isinstance(calib_data, dict):
        return dataset_crops(pose_model, calib_data, flip=True)
    if not isinstance(calib_data, (str, Path)):
        raise TypeError('calib_data must be crops, a data root or a dataset '
                        f'config, got {type(calib_data).__name__}')
    sources = crop_sources(calib_data)
    for name in CALIBRATION_SOURCES:
        if name in sources:
            return dataset_crops(pose_model, sources[name], flip=True)
    raise FileNotFoundError(
        f'no calibration images under {calib_data}: expected '
        'coco_multi/test_coco.json with test_coco_det_AP_H_56.json, or '
        'annotations/mpii_val.json with images/')
