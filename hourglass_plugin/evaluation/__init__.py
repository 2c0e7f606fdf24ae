"""MPII PCKh evaluation: the metric, its numpy core and file readers."""
from .functional import head_sizes, mpii_pckh
from .mpii_files import (MPIIGroundTruth, load_headboxes, load_mpii_gt_mat,
                         load_predictions, save_pred_mat)
from .mpii_pckh_metric import MPIIPCKhMetric

__all__ = [
    'MPIIGroundTruth', 'MPIIPCKhMetric', 'head_sizes', 'load_headboxes',
    'load_mpii_gt_mat', 'load_predictions', 'mpii_pckh', 'save_pred_mat'
]
