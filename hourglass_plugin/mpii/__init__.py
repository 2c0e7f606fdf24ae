"""The MPII Human Pose format: joint order, PCKh groups and ground-truth
``.mat`` files (head boxes). Imported by both ``datasets`` and
``evaluation``; imports neither (no cycle between subpackages)."""
from .ground_truth import (SC_BIAS, MPIIGroundTruth, head_sizes,
                           load_headboxes, load_mat, load_mpii_gt_mat)
from .metainfo import (KEYPOINT_ORIGIN, MPII_HEAD_JOINTS, MPII_JOINT_NAMES,
                       MPII_MAT_JOINT_NAMES, NUM_MPII_JOINTS, PCKH_GROUPS,
                       PCKH_MEAN_JOINTS, ZERO_BASED)

__all__ = [
    'KEYPOINT_ORIGIN', 'MPII_HEAD_JOINTS', 'MPII_JOINT_NAMES',
    'MPII_MAT_JOINT_NAMES', 'MPIIGroundTruth', 'NUM_MPII_JOINTS',
    'PCKH_GROUPS', 'PCKH_MEAN_JOINTS', 'SC_BIAS', 'ZERO_BASED', 'head_sizes',
    'load_headboxes', 'load_mat', 'load_mpii_gt_mat'
]
