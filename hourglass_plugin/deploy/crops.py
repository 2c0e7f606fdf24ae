"""Real person crops, pre-processed as the model sees them at test time.

int8 calibration and the keypoint-agreement check need real inputs (random
noise has other activation ranges). A crop set is an mmpose dataset
(``MpiiDataset`` for HRNet-format MPII json, ``CocoDataset`` for COCO boxes,
ground truth or detections) run through the model's own test pipeline
(``LoadImage -> GetBBoxCenterScale -> TopdownAffine -> PackPoseInputs``) and
its ``data_preprocessor`` (BGR->RGB, mean/std).

Default sources (:func:`default_crop_sources`), relative to the repository:

* ``mpii``: ``data/`` (5 MPII validation people, HRNet json, boxes from the
  annotated center/scale as mmpose's ``MpiiDataset`` computes them);
* ``coco_gt``: ``../shared/data/coco_multi`` ground-truth person boxes
  (14 people on 4 COCO images);
* ``coco_det``: the same images' person-detector boxes with score >= 0.5
  (18 boxes) -- used for int8 calibration, so that calibration and the
  agreement check do not use the same boxes.
"""
import os.path as osp
from pathlib import Path
from typing import Dict, Optional

import torch
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn


def default_crop_sources(repo_root: str) -> Dict[str, dict]:
    """mmpose dataset configs (without pipeline) for the real test data.

    Args:
        repo_root (str): The repository root (folder holding ``setup.cfg``);
            ``data/`` is inside it and ``shared/data`` beside it.

    Returns:
        dict[str, dict]: Source name -> dataset config, only for the sources
        whose files exist (``mpii``, ``coco_gt``, ``coco_det``).
    """
    root = Path(repo_root).resolve()
    coco = root.parent / 'shared' / 'data' / 'coco_multi'
    sources = {}
    if (root / 'data' / 'annotations' / 'mpii_val.json').is_file():
        sources['mpii'] = dict(
            type='MpiiDataset',
            ann_file=str(root / 'data' / 'annotations' / 'mpii_val.json'),
            data_prefix=dict(img=str(root / 'data' / 'images') + '/'))
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
            (e.g. from :func:`default_crop_sources`); the model's test
            pipeline is used.
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

    from .model_zoo import mmpose_metainfo
    init_default_scope('mmpose')
    metainfo = dataset_cfg.get('metainfo') or mmpose_metainfo(
        dataset_cfg['type'])
    cfg = dict(
        dataset_cfg,
        metainfo=metainfo,
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
