"""PCKh on MPII: the numeric core shared by ``MPIIPCKhMetric`` and
``tools/eval_mpii.py`` (pure numpy, so both give identical numbers).

PCKh (Andriluka et al., CVPR 2014, Sec. 5): a predicted joint is correct when
its distance to the ground truth is below ``thr`` times the person's head size,
the head size being ``SC_BIAS = 0.6`` (``hourglass_plugin.mpii``) times the
diagonal of the annotated head box (MATLAB toolkit ``util_get_head_size``;
HRNet ``lib/dataset/mpii.py``).
Only annotated (visible) joints count.

Conventions (each one moves published numbers a little):

- threshold compare: ``dist < thr`` by default (mmpose 1.x
  ``MpiiPCKAccuracy``); ``inclusive=True`` uses ``dist <= thr`` (HRNet's
  ``evaluate``; the MATLAB toolkit's ``computePCK`` also uses ``<=``).
- Mean: over the 14 joints without pelvis and thorax, ``weighted=True``
  weights each joint by its number of visible instances, i.e. the pooled
  fraction of correct joints (HRNet, mmpose; the MATLAB toolkit's "Total"
  pools too); ``weighted=False`` is the plain average of the 14 per-joint
  values.
- ``Mean@0.1`` is evaluated at exactly 0.1 head sizes. HRNet prints
  ``pckAll[11]`` as "Mean@0.1", which is the threshold 0.11 (an indexing
  slip); mmpose uses 0.1.
- Groups: ``Head`` is ``head_top`` alone (HRNet, mmpose; the MATLAB
  toolkit's ``genTablePCK`` averages upper neck and head top instead).
- ``AUC``: area under the Mean-PCKh curve for thresholds 0, 0.01, ..., 0.50,
  with the threshold axis rescaled to [0, 1] and trapezoidal integration
  (MATLAB toolkit ``area_under_curve(scale01(range), pck(:, end))``), in
  percent. With the default ``<``, perfect predictions score 99 (nothing is
  below the threshold 0); with ``inclusive=True``, 100.
"""
from typing import Dict, Union

import numpy as np

from ...mpii import NUM_MPII_JOINTS, PCKH_GROUPS, PCKH_MEAN_JOINTS

#: PCKh thresholds of the AUC / PCKh curve: 0, 0.01, ..., 0.50 head sizes.
PCKH_CURVE_THRESHOLDS = np.arange(51) / 100.0

NUM_JOINTS = NUM_MPII_JOINTS


def _pck_per_joint(correct: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(N, K) bool correct, (K,) visible counts -> (K,) percent, NaN if 0."""
    out = np.full(count.shape, np.nan)
    has = count > 0
    out[has] = 100.0 * correct.sum(axis=0)[has] / count[has]
    return out


def _mean_pck(correct: np.ndarray, count: np.ndarray, weighted: bool) -> float:
    """PCKh Mean over ``PCKH_MEAN_JOINTS`` (percent; NaN if none visible)."""
    joints = list(PCKH_MEAN_JOINTS)
    if weighted:
        total = count[joints].sum()
        if total == 0:
            return float('nan')
        return float(100.0 * correct[:, joints].sum() / total)
    per_joint = _pck_per_joint(correct, count)[joints]
    per_joint = per_joint[~np.isnan(per_joint)]
    return float(per_joint.mean()) if per_joint.size else float('nan')


def mpii_pckh(pred: np.ndarray,
              gt: np.ndarray,
              visible: np.ndarray,
              head_size: np.ndarray,
              thr: float = 0.5,
              weighted: bool = True,
              inclusive: bool = False) -> Dict[str, Union[float, np.ndarray]]:
    """PCKh of MPII predictions: per joint, per group, Mean, Mean@0.1, AUC.

    ``pred`` and ``gt`` must use the same pixel origin (both 0-based or both
    1-based); no shift is applied here. Predictions that are NaN/inf count as
    wrong (the MATLAB toolkit sets NaN predictions to inf).

    Args:
        pred (np.ndarray): (N, 16, 2) predicted joints (x, y), pixels, MPII
            joint order.
        gt (np.ndarray): (N, 16, 2) ground-truth joints, pixels, same origin.
        visible (np.ndarray): (N, 16) annotated-joint mask (bool or 0/1;
            MPII ``1 - jnt_missing``, HRNet json ``joints_vis``).
        head_size (np.ndarray): (N,) head sizes in pixels (``head_sizes``).
        thr (float): PCKh threshold in head sizes for the per-joint/group
            values and ``Mean``. Defaults to 0.5.
        weighted (bool): Mean weighted by visible counts (HRNet, mmpose) if
            True, plain average of the 14 per-joint values if False.
        inclusive (bool): ``dist <= thr`` (HRNet) if True, ``dist < thr``
            (mmpose 1.x) if False.

    Returns:
        dict: ``'Head'``, ``'Shoulder'``, ``'Elbow'``, ``'Wrist'``, ``'Hip'``,
        ``'Knee'``, ``'Ankle'``, ``'Mean'`` (at ``thr``), ``'Mean@0.1'``,
        ``'AUC'``: floats in percent (NaN when no joint of a group is
        visible); ``'per_joint'``: (16,) PCKh at ``thr`` in percent (NaN for
        joints never visible); ``'count'``: (16,) visible instances per joint.

    Raises:
        ValueError: wrong shapes, ``thr <= 0``, a visible ground-truth joint
            that is not finite, or a non-finite / non-positive head size for
            a person with visible joints (the message names the person index).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible)
    head_size = np.asarray(head_size, dtype=np.float64)
    n = gt.shape[0] if gt.ndim else 0
    if gt.shape != (n, NUM_JOINTS, 2) or n == 0:
        raise ValueError(f'gt must have shape (N>0, {NUM_JOINTS}, 2), '
                         f'got {gt.shape}')
    if pred.shape != gt.shape:
        raise ValueError(f'pred has shape {pred.shape}, gt {gt.shape}')
    if visible.shape != (n, NUM_JOINTS):
        raise ValueError(f'visible must have shape {(n, NUM_JOINTS)}, '
                         f'got {visible.shape}')
    if head_size.shape != (n, ):
        raise ValueError(f'head_size must have shape {(n, )}, '
                         f'got {head_size.shape}')
    if not thr > 0:
        raise ValueError(f'thr must be > 0, got {thr}')
    visible = visible.astype(bool)
    bad = np.argwhere(visible & ~np.isfinite(gt).all(axis=-1))
    if bad.size:
        raise ValueError(f'gt joint {bad[0, 1]} of person {bad[0, 0]} is '
                         f'visible but not finite: {gt[tuple(bad[0])]}')
    has_visible = visible.any(axis=1)
    bad = np.flatnonzero(has_visible & ~(np.isfinite(head_size)
                                         & (head_size > 0)))
    if bad.size:
        raise ValueError(f'head size of person {bad[0]} must be a finite '
                         f'number > 0, got {head_size[bad[0]]}')

    # normalised distance in head sizes, (N, 16); inf for NaN predictions
    norm = np.where(has_visible, head_size, 1.0)[:, None]
    with np.errstate(invalid='ignore'):
        dist = np.linalg.norm(pred - gt, axis=-1) / norm
    dist[~np.isfinite(dist)] = np.inf
    count = visible.sum(axis=0)

    def correct_at(t: float) -> np.ndarray:
        hit = dist <= t if inclusive else dist < t
        return hit & visible

    correct = correct_at(thr)
    per_joint = _pck_per_joint(correct, count)
    results: Dict[str, Union[float, np.ndarray]] = {}
    for group, joints in PCKH_GROUPS.items():
        values = per_joint[list(joints)]
        values = values[~np.isnan(values)]
        results[group] = float(values.mean()) if values.size else float('nan')
    results['Mean'] = _mean_pck(correct, count, weighted)
    results['Mean@0.1'] = _mean_pck(correct_at(0.1), count, weighted)
    curve = np.array([
        _mean_pck(correct_at(t), count, weighted)
        for t in PCKH_CURVE_THRESHOLDS
    ])
    x = PCKH_CURVE_THRESHOLDS / PCKH_CURVE_THRESHOLDS[-1]  # scaled to [0, 1]
    results['AUC'] = float(np.sum(np.diff(x) * (curve[1:] + curve[:-1]) / 2))
    results['per_joint'] = per_joint
    results['count'] = count
    return results
