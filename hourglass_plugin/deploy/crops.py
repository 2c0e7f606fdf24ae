"""Real person crops, pre-processed as the model sees them at test time.

int8 calibration and the keypoint-agreement check need real inputs (random
noise has other activation ranges). A crop set is an mmpose dataset
(``MpiiDataset`` for HRNet-format MPII json, ``CocoDataset`` for COCO boxes,
ground truth or detections) run through the model's own test pipeline
(``LoadImage -> GetBBoxCenterScale -> TopdownAffine -> PackPoseInputs``) and
its ``data_preprocessor`` (BGR->RGB, mean/std).

The package never looks for data by itself: the caller names a data root
(the repository's tools pass its ``data/``) and :func:`crop_sources` lists
what that root holds:

* ``mpii``: ``annotations/mpii_val.json`` + ``images/`` (HRNet json, boxes
  from the annotated center/scale as mmpose's ``MpiiDataset`` computes them);
* ``coco_gt``: ``coco_multi/test_coco.json`` ground-truth person boxes;
* ``coco_det``: the same images' person-detector boxes
  (``coco_multi/test_coco_det_AP_H_56.json``) with score >= 0.5 -- used for
  int8 calibration, so that calibration and the agreement check do not use
  the same boxes.
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
    """mmpose dataset configs (without pipeline) for the real data under a
    data root.

    Args:
        data_root (str | Path): A folder laid out as the repository's
            ``data/`` (see the module docstring).

    Returns:
        dict[str, dict]: Source name -> dataset config, only for the sources
        whose files exist (``mpii``, ``coco_gt``, ``coco_det``); empty when
        the folder holds none.
    """
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
    """Pre-processed crops of every person in a dataset.

    Args:
        pose_model (nn.Module): mmpose top-down estimator built by
            ``mmpose.apis.init_model`` (has ``cfg`` and ``data_preprocessor``).
        dataset_cfg (dict): An mmpose dataset config without ``pipeline``
            (e.g. from :func:`crop_sources`); the model's test pipeline is
            used.
        flip (bool): Also append the horizontally flipped crops (what the
            flip test feeds the network).
        max_crops (int, optional): Keep only the first crops.

    Returns:
        Tensor: (N, 3, H, W) float32 normalised crops on the model's device
        (2N with ``flip``), input-space pixels of the model's input size.

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
    """Real crops for int8 calibration, from what the caller gives.

    Args:
        pose_model (nn.Module): The estimator (its test pipeline and
            ``data_preprocessor`` make the crops).
        calib_data (Tensor | str | Path | dict): (N, 3, H, W) normalised
            crops, used as given; or a data root (e.g. the repository's
            ``data/``): its detector boxes on the COCO images
            (``coco_det``), else its MPII people (``mpii``), plus mirrors;
            or an mmpose dataset config without pipeline (plus mirrors).

    Returns:
        Tensor: (N, 3, H, W) float32 normalised crops.

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
