"""Saved MPII predictions: HRNet ``pred.mat``, the original hourglass
``.h5``, ``.npy`` and ``.json``.

All coordinates in these files are 1-based MATLAB pixels (the centre of the
top-left pixel is (1, 1)); the functions here return them unchanged.
"""
import json
import os
import os.path as osp

import numpy as np
from scipy.io import savemat

from ..mpii.ground_truth import load_mat
from ..mpii.metainfo import NUM_MPII_JOINTS as NUM_JOINTS

#: Prediction file types ``load_predictions`` reads.
PREDICTION_FILE_TYPES = ('.mat', '.h5', '.hdf5', '.npy', '.json')


def _read_prediction_array(path: str, ext: str) -> np.ndarray:
    """The raw ``preds`` array of a prediction file, by file type."""
    if ext == '.mat':
        mat = load_mat(path)
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
