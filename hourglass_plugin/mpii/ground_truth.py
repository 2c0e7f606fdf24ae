"""MPII ground-truth ``.mat`` files: joints, visibility, head boxes, head
sizes (``gt_valid.mat`` / mmpose's ``mpii_gt_val.mat`` layout).

The one place that reads head boxes: ``MPIIPoseDataset`` (for the metric's
``head_size``) and ``tools/eval_mpii.py`` both call it. All coordinates in
these files are 1-based MATLAB pixels (the centre of the top-left pixel is
(1, 1)); the functions here return them unchanged.
"""
import os.path as osp
from typing import NamedTuple

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from .metainfo import MPII_MAT_JOINT_NAMES, NUM_MPII_JOINTS

#: Head size = SC_BIAS x head-box diagonal (MPII toolkit
#: ``util_get_head_size``, HRNet ``lib/dataset/mpii.py``, mmpose).
SC_BIAS = 0.6


def head_sizes(headboxes: np.ndarray) -> np.ndarray:
    """Head size of each person from its head box.

    Args:
        headboxes (np.ndarray): (N, 2, 2) boxes ``[[x1, y1], [x2, y2]]`` in
            pixels (any common origin; MPII's ``headboxes_src`` transposed).

    Returns:
        np.ndarray: (N,) float64, ``0.6 * ||(x2, y2) - (x1, y1)||`` pixels.

    Raises:
        ValueError: ``headboxes`` is not (N, 2, 2).
    """
    headboxes = np.asarray(headboxes, dtype=np.float64)
    if headboxes.ndim != 3 or headboxes.shape[1:] != (2, 2):
        raise ValueError(
            f'head boxes must have shape (N, 2, 2), got {headboxes.shape}')
    return SC_BIAS * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=1)


class MPIIGroundTruth(NamedTuple):
    """MPII validation ground truth as stored in ``gt_valid.mat``.

    Attributes:
        keypoints (np.ndarray): (N, 16, 2) joints, 1-based pixels
            (``pos_gt_src`` transposed); unannotated joints hold zeros.
        visible (np.ndarray): (N, 16) bool, ``1 - jnt_missing``.
        headboxes (np.ndarray): (N, 2, 2) ``[[x1, y1], [x2, y2]]``, 1-based
            pixels (``headboxes_src`` transposed).
        head_size (np.ndarray): (N,) ``0.6 * box diagonal`` pixels.
    """
    keypoints: np.ndarray
    visible: np.ndarray
    headboxes: np.ndarray
    head_size: np.ndarray


def load_mat(path: str) -> dict:
    """Read a MATLAB ``.mat`` file (``scipy.io.loadmat``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: not a readable ``.mat`` file (names the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        return loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError) as exc:
        raise ValueError(
            f'{path}: not a readable MATLAB .mat file ({exc})') from None


def _get_array(mat: dict, key: str, shape: tuple, path: str) -> np.ndarray:
    """``mat[key]`` as float64, checked against ``shape`` (-1: any size)."""
    if key not in mat:
        keys = sorted(k for k in mat if not k.startswith('__'))
        raise ValueError(f'{path}: no {key!r} array (keys: {keys})')
    array = np.asarray(mat[key])
    if array.ndim != len(shape) or any(
            want not in (-1, got) for want, got in zip(shape, array.shape)):
        shape_text = tuple('N' if s == -1 else s for s in shape)
        raise ValueError(f'{path}: {key!r} has shape {array.shape}, '
                         f'expected {shape_text}')
    return array.astype(np.float64)


def load_headboxes(path: str) -> np.ndarray:
    """Read the head boxes of an MPII ground-truth ``.mat`` file.

    Source: ``headboxes_src`` of the Tompson et al. validation split
    (HRNet's ``gt_valid.mat``, mmpose's ``mpii_gt_val.mat``).

    Args:
        path (str): The ``.mat`` file.

    Returns:
        np.ndarray: (N, 2, 2) float64 boxes ``[[x1, y1], [x2, y2]]`` in
        1-based pixels, one per person in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unreadable file, no ``headboxes_src`` of shape
            (2, 2, N), or a box with non-finite coordinates (names the
            file and the person index).
    """
    boxes = _get_array(load_mat(path), 'headboxes_src', (2, 2, -1), path)
    boxes = boxes.transpose(2, 0, 1)
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(f'{path}: head box {bad[0]} is not finite: '
                         f'{boxes[bad[0]].tolist()}')
    return boxes


def load_mpii_gt_mat(path: str) -> MPIIGroundTruth:
    """Read an MPII ground-truth ``.mat`` (``gt_valid.mat`` layout).

    Keys used, as HRNet's ``lib/dataset/mpii.py`` ``evaluate`` reads them:
    ``pos_gt_src`` (16, 2, N), ``jnt_missing`` (16, N), ``headboxes_src``
    (2, 2, N), and ``dataset_joints`` (1, 16) if present, which must name
    the joints in MPII order (``rank, rkne, ..., lwri``).

    Args:
        path (str): The ``.mat`` file.

    Returns:
        MPIIGroundTruth: joints, visibility, head boxes and head sizes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unreadable file, a missing key, a wrong shape, a joint
            order other than MPII's, or N disagreeing between keys.
    """
    mat = load_mat(path)
    if 'dataset_joints' in mat:
        names = tuple(
            str(np.squeeze(name)) for name in np.ravel(mat['dataset_joints']))
        if names != MPII_MAT_JOINT_NAMES:
            raise ValueError(f'{path}: dataset_joints {names} are not MPII '
                             f'order {MPII_MAT_JOINT_NAMES}')
    keypoints = _get_array(mat, 'pos_gt_src', (NUM_MPII_JOINTS, 2, -1), path)
    missing = _get_array(mat, 'jnt_missing', (NUM_MPII_JOINTS, -1), path)
    headboxes = load_headboxes(path)
    counts = {keypoints.shape[-1], missing.shape[-1], len(headboxes)}
    if len(counts) != 1:
        raise ValueError(
            f'{path}: pos_gt_src, jnt_missing and headboxes_src disagree on '
            f'the number of people ({keypoints.shape[-1]}, '
            f'{missing.shape[-1]}, {len(headboxes)})')
    return MPIIGroundTruth(
        keypoints=keypoints.transpose(2, 0, 1),
        visible=(missing == 0).T,
        headboxes=headboxes,
        head_size=head_sizes(headboxes))
