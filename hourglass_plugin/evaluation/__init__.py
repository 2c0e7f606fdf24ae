"""MPII PCKh evaluation: the metric, its numpy core, prediction files and
the keypoint-origin check between datasets and metrics.

Ground-truth ``.mat`` reading lives in :mod:`hourglass_plugin.mpii` and is
re-exported here for the evaluation tools.
"""
from ..mpii import (MPIIGroundTruth, head_sizes, load_headboxes,
                    load_mpii_gt_mat)
from .functional import mpii_pckh
from .keypoint_origin import (KeypointOriginCheckHook, KeypointOriginError,
                              require_zero_based)
from .mpii_pckh_metric import MPIIPCKhMetric
from .prediction_files import load_predictions, save_pred_mat

__all__ = [
    'KeypointOriginCheckHook', 'KeypointOriginError', 'MPIIGroundTruth',
    'MPIIPCKhMetric', 'head_sizes', 'load_headboxes', 'load_mpii_gt_mat',
    'load_predictions', 'mpii_pckh', 'require_zero_based', 'save_pred_mat'
]
