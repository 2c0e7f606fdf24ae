"""MPII metainfo in one place: mmpose's MPII ``dataset_info``, PCKh groups.

The 16 joints, their order, the flip partners (``swap``), the 15-link skeleton,
``joint_weights`` and ``sigmas`` are *not* copied here: they are mmpose's own
``configs/_base_/datasets/mpii.py``, shipped inside the installed mmpose
package (``mmpose/.mim/configs/...``) and referenced by absolute path. Joint
order (MPII / HRNet / mmpose)::

    0 right_ankle  1 right_knee   2 right_hip       3 left_hip
    4 left_knee    5 left_ankle   6 pelvis          7 thorax
    8 upper_neck   9 head_top    10 right_wrist    11 right_elbow
   12 right_shoulder 13 left_shoulder 14 left_elbow 15 left_wrist

The path is absolute on purpose: mmpose's ``MpiiDataset`` names the file
relatively (``configs/_base_/datasets/mpii.py``), and ``parse_pose_metainfo``
tries that path against the working directory first, where an OpenMMLab
project such as this one keeps a *loader* config of the same name (with no
``dataset_info`` in it).

The PCKh reporting groups follow HRNet's ``lib/dataset/mpii.py`` ``evaluate``
and mmpose 1.x's ``MpiiPCKAccuracy``: ``Head`` is ``head_top`` alone, every
other group averages its right and left joint, and the Mean is taken over
the 14 joints left after removing ``pelvis`` and ``thorax``.
"""
import os.path as osp
from typing import Dict, Tuple

import mmpose
from mmpose.datasets.datasets.utils import parse_pose_metainfo

#: mmpose's MPII ``dataset_info`` file inside the installed mmpose package.
MPII_METAINFO_FILE = osp.join(
    osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets',
    'mpii.py')
if not osp.isfile(MPII_METAINFO_FILE):
    raise ImportError(
        f'mmpose {mmpose.__version__} has no MPII dataset_info at '
        f'{MPII_METAINFO_FILE}: reinstall mmpose (its wheel ships '
        "'.mim/configs/_base_/datasets/mpii.py')")

#: ``metainfo`` argument for mmpose datasets (``BaseCocoStyleDataset``).
MPII_METAINFO: Dict[str, str] = dict(from_file=MPII_METAINFO_FILE)

_PARSED = parse_pose_metainfo(dict(MPII_METAINFO))
_NAME2ID: Dict[str, int] = _PARSED['keypoint_name2id']
_ID2NAME: Dict[int, str] = _PARSED['keypoint_id2name']

#: The 16 joint names in MPII order (index = joint id).
MPII_JOINT_NAMES = tuple(_ID2NAME[i] for i in range(len(_ID2NAME)))

#: The same joints as ``dataset_joints`` names them in MPII's ground-truth
#: ``.mat`` files (``gt_valid.mat``, mmpose's ``mpii_gt_val.mat``).
MPII_MAT_JOINT_NAMES = ('rank', 'rkne', 'rhip', 'lhip', 'lkne', 'lank', 'pelv',
                        'thor', 'neck', 'head', 'rwri', 'relb', 'rsho', 'lsho',
                        'lelb', 'lwri')

#: Joints a person's head box must lie near (annotation/head-box alignment).
MPII_HEAD_JOINTS = (_NAME2ID['upper_neck'], _NAME2ID['head_top'])

#: PCKh reporting groups: group name -> joint ids averaged in that group.
PCKH_GROUPS: Dict[str, Tuple[int, ...]] = {
    'Head': (_NAME2ID['head_top'], ),
    'Shoulder': (_NAME2ID['right_shoulder'], _NAME2ID['left_shoulder']),
    'Elbow': (_NAME2ID['right_elbow'], _NAME2ID['left_elbow']),
    'Wrist': (_NAME2ID['right_wrist'], _NAME2ID['left_wrist']),
    'Hip': (_NAME2ID['right_hip'], _NAME2ID['left_hip']),
    'Knee': (_NAME2ID['right_knee'], _NAME2ID['left_knee']),
    'Ankle': (_NAME2ID['right_ankle'], _NAME2ID['left_ankle']),
}

#: The 14 joints of the PCKh Mean (all but pelvis and thorax).
PCKH_MEAN_JOINTS = tuple(i for i, name in enumerate(MPII_JOINT_NAMES)
                         if name not in ('pelvis', 'thorax'))
