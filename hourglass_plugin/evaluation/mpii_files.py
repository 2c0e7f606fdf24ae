"""Readers/writers of MPII evaluation files: ground-truth ``.mat`` and saved
predictions (HRNet ``pred.mat``, the original hourglass ``.h5``, ``.npy``,
``.json``).

All coordinates in these files are 1-based MATLAB pixels (the centre of the
top-left pixel is (1, 1)); the functions here return them unchanged.
"""
import json
import os
import os.path as osp
from typing import NamedTuple

import numpy as np
from scipy.io import loadmat, savemat
from scipy.io.matlab import MatReadError

from hourglass_plugin.datasets.mpii_metainfo import MPII_MAT_JOINT_NAMES
from .functional import head_sizes

NUM_JOINTS = len(MPII_MAT_JOINT_NAMES)
#: Prediction file types ``load_predictions`` reads.
PREDICTION_FILE_TYPES = ('.mat', '.h5', '.hdf5', '.npy', '.json')


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


def _load_mat(path: str) -> dict:
    """``scipy.io.loadmat`` with errors that name the file."""
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
    boxes = _get_array(_load_mat(path), 'headboxes_src', (2, 2, -1), path)
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
    mat = _load_mat(path)
    if 'dataset_joints' in mat:
        names = tuple(
            str(np.squeeze(name)) for name in np.ravel(mat['dataset_joints']))
        if names != MPII_MAT_JOINT_NAMES:
            raise ValueError(f'{path}: dataset_joints {names} are not MPII '
                             f'order {MPII_MAT_JOINT_NAMES}')
    keypoints = _get_array(mat, 'pos_gt_src', (NUM_JOINTS, 2, -1), path)
    missing = _get_array(mat, 'jnt_missing', (NUM_JOINTS, -1), path)
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


def _read_prediction_array(path: str, ext: str) -> np.ndarray:
    """The raw ``preds`` array of a prediction file, by file type."""
    if ext == '.mat':
        mat = _load_mat(path)
        if 'preds' not in mat:
            keys = sorted(k for k in mat if not k.startswith('__'))
            raise ValueError(f"{path}: no 'preds' array (keys: {keys})")
        return mat['preds']
    if ext in ('.h5', '.hdf5'):
        import h5py
        try:
            with h5py.File(path, 'r') as f:
                if 'preds' not in f:
                    raise ValueError(f"{path}: no 'preds' dataset "
                                     f'(datasets: {sorted(f.keys())})')
                return f['preds'][()]
        except OSError as exc:
            raise ValueError(
                f'{path}: not a readable HDF5 file ({exc})') from None
    if ext == '.npy':
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(
                f'{path}: not a readable .npy array ({exc})') from None
    try:  # .json: [[[x, y] x 16] x N] or {"preds": ...}
        with open(path) as f:
            data = json.load(f)
    except ValueError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None
    if isinstance(data, dict):
        if 'preds' not in data:
            raise ValueError(f"{path}: no 'preds' key (keys: {sorted(data)})")
        data = data['preds']
    return data


def load_predictions(path: str) -> np.ndarray:
    """Read saved MPII predictions.

    Formats: ``.mat`` (key ``preds``; HRNet's ``pred.mat``), ``.h5``/
    ``.hdf5`` (dataset ``preds``; the original hourglass code's
    ``preds/valid.h5``), ``.npy`` (the array), ``.json`` (a nested list, or
    an object with key ``preds``).

    Args:
        path (str): The prediction file.

    Returns:
        np.ndarray: (N, 16, 2) float64 joints (x, y) in pixels, unchanged
        (these files are 1-based by convention).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unknown extension, unreadable file, missing ``preds``,
            non-numeric data, shape other than (N, 16, 2), or a NaN/inf
            value (names the person and joint).
    """
    ext = osp.splitext(path)[1].lower()
    if ext not in PREDICTION_FILE_TYPES:
        raise ValueError(f'{path}: unknown prediction file type {ext!r} '
                         f'(expected one of {PREDICTION_FILE_TYPES})')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    raw = _read_prediction_array(path, ext)
    try:
        preds = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError):
        raise ValueError(f'{path}: preds is not a numeric (N, {NUM_JOINTS}, '
                         '2) array') from None
    if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2) or not len(preds):
        raise ValueError(f'{path}: preds has shape {preds.shape}, expected '
                         f'(N, {NUM_JOINTS}, 2)')
    bad = np.argwhere(~np.isfinite(preds).all(axis=-1))
    if bad.size:
        person, joint = bad[0]
        raise ValueError(f'{path}: prediction of person {person}, joint '
                         f'{joint} is not finite: {preds[person, joint]}')
    return preds


def save_pred_mat(path: str, preds: np.ndarray) -> None:
    """Write predictions as HRNet's ``pred.mat``.

    Args:
        path (str): Output ``.mat`` file; missing folders are created.
        preds (np.ndarray): (N, 16, 2) joints in 1-based pixels, in
            annotation-file order. Stored as float64 under key ``preds``.

    Raises:
        ValueError: ``preds`` is not (N, 16, 2).
    """
    preds = np.asarray(preds, dtype=np.float64)
    if preds.ndim != 3 or preds.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f'preds must have shape (N, {NUM_JOINTS}, 2), got '
                         f'{preds.shape}')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    savemat(path, {'preds': preds})
