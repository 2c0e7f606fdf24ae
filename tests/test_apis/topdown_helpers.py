"""Independent reference computations for the top-down tests.

Written from the definitions (Newell et al. 2016 Sec. 5 / mmpose's
``GetBBoxCenterScale`` and ``TopdownAffine``), not by calling the code under
test: a person box -> centre c and size s = 1.25 x box size, widened to the
model's aspect ratio -> the crop maps image point p to input point
(p - c) * (w_in / s_w) + (w_in / 2, h_in / 2).
"""
import json
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from mmcv.ops import nms as mmcv_nms

PADDING = 1.25


def crop_center_size(bbox, input_size: Tuple[int, int]):
    """Centre (2,) and size (2,) in image pixels of the region a box's crop
    covers: the box scaled by 1.25 about its centre, then widened (or made
    taller) to the input aspect ratio w_in / h_in."""
    x1, y1, x2, y2 = np.asarray(bbox, np.float64)
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * PADDING, (y2 - y1) * PADDING
    aspect = input_size[0] / input_size[1]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h])


def crop_region(bbox, input_size: Tuple[int, int]) -> np.ndarray:
    """[x_min, y_min, x_max, y_max] of the image region a box's crop covers."""
    center, size = crop_center_size(bbox, input_size)
    return np.concatenate([center - size / 2, center + size / 2])


def image_to_input_matrix(bbox, input_size: Tuple[int, int]) -> np.ndarray:
    """2x3 affine matrix from image pixels to model-input pixels."""
    center, size = crop_center_size(bbox, input_size)
    zoom = input_size[0] / size[0]  # == input_size[1] / size[1]
    return np.array([[zoom, 0, input_size[0] / 2 - zoom * center[0]],
                     [0, zoom, input_size[1] / 2 - zoom * center[1]]])


def input_to_image(point, bbox, input_size: Tuple[int, int]) -> np.ndarray:
    """Map a model-input point (x, y) back to image pixels (inverse affine)."""
    center, size = crop_center_size(bbox, input_size)
    return center + (np.asarray(point, np.float64) -
                     np.array(input_size) / 2) * size / np.array(input_size)


def kept_person_boxes(det_file: Path, image_id: int, score_thr: float,
                      nms_thr: float) -> np.ndarray:
    """Person boxes (xyxy) of one image that survive score >= thr and NMS.

    NMS by mmcv's compiled ``nms`` with ``offset=1`` (boxes are w+1 x h+1
    pixels, the HRNet convention mmpose's python NMS uses), suppressing
    IoU > nms_thr: a second implementation of the same rule.
    """
    records = [
        r for r in json.loads(Path(det_file).read_text())
        if r['image_id'] == image_id and r['category_id'] == 1
        and r['score'] >= score_thr
    ]
    if not records:
        return np.zeros((0, 4), np.float32)
    xywh = np.array([r['bbox'] for r in records], np.float32)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    scores = np.array([r['score'] for r in records], np.float32)
    _, keep = mmcv_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), nms_thr, offset=1)
    return boxes[keep.numpy()]


def fix_rtmdet_head(detector) -> None:
    """Make the RTMDet head of an ``MMDetPersonDetector`` predict, at every
    prior point, score 0.5 (logit 0) and a box reaching 2 strides to each
    side: boxes for sure, which a randomly initialised detector does not
    always give."""
    head = detector.model.bbox_head
    with torch.no_grad():
        for conv in head.rtm_cls:
            conv.weight.zero_()
            conv.bias.zero_()
        for conv in head.rtm_reg:
            conv.weight.zero_()
            conv.bias.fill_(2.0)


def assert_keypoints_in_crop(bbox,
                             keypoints,
                             scores,
                             input_size,
                             heatmap_size,
                             tol: float = 1e-3) -> None:
    """Every keypoint lies in the image region its box's crop covers.

    mmpose's heatmap decoder puts a joint whose heatmap maximum is <= 0
    (possible with random weights) at heatmap pixel (-1, -1); such joints
    must be exactly there instead. Fails when most joints are such, so the
    region test is not vacuous.
    """
    keypoints = np.asarray(keypoints, np.float64)
    scores = np.asarray(scores)
    x0, y0, x1, y1 = crop_region(bbox, input_size)
    inside = ((keypoints[:, 0] >= x0 - tol) & (keypoints[:, 0] <= x1 + tol)
              & (keypoints[:, 1] >= y0 - tol) & (keypoints[:, 1] <= y1 + tol))
    no_max = scores <= 0
    assert np.all(inside | no_max), (bbox, keypoints[~inside])
    stride = input_size[0] / heatmap_size[0]
    sentinel = input_to_image((-stride, -stride), bbox, input_size)
    np.testing.assert_allclose(
        keypoints[no_max],
        np.broadcast_to(sentinel, keypoints[no_max].shape),
        atol=1e-2)
    assert no_max.mean() < 0.5
