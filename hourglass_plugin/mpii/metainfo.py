"""MPII Human Pose constants: joint order, ``.mat`` joint names, PCKh groups.

Pure constants (nothing is read at import time). The joint order is the MPII
format's own (Andriluka et al., CVPR 2014; HRNet; mmpose)::

    0 right_ankle  1 right_knee   2 right_hip       3 left_hip
    4 left_knee    5 left_ankle   6 pelvis          7 thorax
    8 upper_neck   9 head_top    10 right_wrist    11 right_elbow
   12 right_shoulder 13 left_shoulder 14 left_elbow 15 left_wrist

Flip partners, skeleton, ``joint_weights`` and ``sigmas`` are not repeated
here: they are mmpose's own MPII ``dataset_info``
(``configs/_base_/datasets/mpii.py`` inside the installed mmpose), which
``MPIIPoseDataset`` inherits from mmpose's ``MpiiDataset``; a test checks
that the names below equal mmpose's.

The PCKh reporting groups follow HRNet's ``lib/dataset/mpii.py`` ``evaluate``
and mmpose 1.x's ``MpiiPCKAccuracy``: ``Head`` is ``head_top`` alone, every
other group averages its right and left joint, and the Mean is taken over
the 14 joints left after removing ``pelvis`` and ``thorax``.
"""
from typing import Dict, Tuple

#: The 16 joint names in MPII order (index = joint id), as mmpose names them.
MPII_JOINT_NAMES: Tuple[str,
                        ...] = ('right_ankle', 'right_knee', 'right_hip',
                                'left_hip', 'left_knee', 'left_ankle',
                                'pelvis', 'thorax', 'upper_neck', 'head_top',
                                'right_wrist', 'right_elbow', 'right_shoulder',
                                'left_shoulder', 'left_elbow', 'left_wrist')
NUM_MPII_JOINTS = len(MPII_JOINT_NAMES)

#: The same joints as ``dataset_joints`` names them in MPII's ground-truth
#: ``.mat`` files (``gt_valid.mat``, mmpose's ``mpii_gt_val.mat``).
MPII_MAT_JOINT_NAMES: Tuple[str, ...] = ('rank', 'rkne', 'rhip', 'lhip',
                                         'lkne', 'lank', 'pelv', 'thor',
                                         'neck', 'head', 'rwri', 'relb',
                                         'rsho', 'lsho', 'lelb', 'lwri')

_ID = {name: i for i, name in enumerate(MPII_JOINT_NAMES)}

#: Joints a person's head box must lie near (annotation/head-box alignment).
MPII_HEAD_JOINTS: Tuple[int, int] = (_ID['upper_neck'], _ID['head_top'])

#: PCKh reporting groups: group name -> joint ids averaged in that group.
PCKH_GROUPS: Dict[str, Tuple[int, ...]] = {
    'Head': (_ID['head_top'], ),
    'Shoulder': (_ID['right_shoulder'], _ID['left_shoulder']),
    'Elbow': (_ID['right_elbow'], _ID['left_elbow']),
    'Wrist': (_ID['right_wrist'], _ID['left_wrist']),
    'Hip': (_ID['right_hip'], _ID['left_hip']),
    'Knee': (_ID['right_knee'], _ID['left_knee']),
    'Ankle': (_ID['right_ankle'], _ID['left_ankle']),
}

#: The 14 joints of the PCKh Mean (all but pelvis and thorax).
PCKH_MEAN_JOINTS: Tuple[int,
                        ...] = tuple(i
                                     for i, name in enumerate(MPII_JOINT_NAMES)
                                     if name not in ('pelvis', 'thorax'))

#: ``dataset_meta`` key naming where a dataset's keypoint coordinates start.
#: ``MPIIPoseDataset`` sets it to :data:`ZERO_BASED`; mmpose's
#: ``MpiiDataset`` sets nothing (its joints keep MPII's 1-based MATLAB
#: pixels while its box centres are 0-based, and ``MpiiPCKAccuracy`` adds 1
#: to the predictions to match). ``MPIIPCKhMetric`` and
#: ``KeypointOriginCheckHook`` read it.
KEYPOINT_ORIGIN = 'keypoint_origin'

#: Keypoints, box centres and predictions all in 0-based image pixels (the
#: centre of the top-left pixel is (0, 0)), as HRNet and mmpose 0.x.
ZERO_BASED = '0-based'
