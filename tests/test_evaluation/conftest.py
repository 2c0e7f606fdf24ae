"""Fixtures: the real MPII validation ground truth (2,958 people) and
prediction sets with known PCKh."""
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.io import loadmat

from hourglass_plugin.evaluation import MPIIGroundTruth, load_mpii_gt_mat
from tests.conftest import load_tool

#: Displacement classes in head sizes: correct at 0.1 and 0.5 / only at 0.5 /
#: never (off the 0.01 threshold grid, so every PCKh-curve value is exact).
NEAR, MIDDLE, FAR = 0.055, 0.405, 0.605


@pytest.fixture(scope='session')
def gt_mat_file(val_gt_dir: Path) -> str:
    """The standard MPII validation ground truth .mat (1-based)."""
    return str(val_gt_dir / 'gt_valid.mat')


@pytest.fixture(scope='session')
def val_gt(gt_mat_file: str) -> MPIIGroundTruth:
    """gt_valid.mat read by our reader."""
    return load_mpii_gt_mat(gt_mat_file)


@pytest.fixture(scope='session')
def tompson_preds(gt_mat_file: str) -> np.ndarray:
    """Real predictions stored beside the GT in gt_valid.mat
    (``pos_pred_src``, Tompson et al.): (2958, 16, 2), 1-based pixels."""
    return loadmat(gt_mat_file)['pos_pred_src'].transpose(2, 0, 1)


@pytest.fixture(scope='session')
def analytic_classes(val_gt: MPIIGroundTruth) -> np.ndarray:
    """(2958, 16) displacement of each joint in head sizes, cycling
    NEAR, MIDDLE, FAR over (person + joint)."""
    i, j = np.meshgrid(
        np.arange(len(val_gt.keypoints)), np.arange(16), indexing='ij')
    return np.array([NEAR, MIDDLE, FAR])[(i + j) % 3]


@pytest.fixture(scope='session')
def analytic_preds(val_gt: MPIIGroundTruth,
                   analytic_classes: np.ndarray) -> np.ndarray:
    """The GT joints moved by ``analytic_classes`` head sizes in random
    directions: (2958, 16, 2), 1-based pixels like the GT."""
    angle = np.random.default_rng(0).uniform(0, 2 * np.pi,
                                             analytic_classes.shape)
    step = analytic_classes * val_gt.head_size[:, None]
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    return val_gt.keypoints + step[..., None] * direction


@pytest.fixture(scope='session')
def eval_mpii() -> ModuleType:
    """tools/eval_mpii.py imported as a module."""
    return load_tool('eval_mpii')
