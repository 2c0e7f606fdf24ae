"""The numpy PCKh core (``mpii_pckh``) on the real 2,958-person MPII
validation GT and on small hand-made cases."""
import numpy as np
import pytest
from mmpose.datasets import MpiiDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from hourglass_plugin.evaluation import head_sizes, mpii_pckh
from hourglass_plugin.mpii import MPII_JOINT_NAMES

# Joint order from data/README.md, written out independently.
README_ORDER = ('right_ankle', 'right_knee', 'right_hip', 'left_hip',
                'left_knee', 'left_ankle', 'pelvis', 'thorax', 'upper_neck',
                'head_top', 'right_wrist', 'right_elbow', 'right_shoulder',
                'left_shoulder', 'left_elbow', 'left_wrist')
GROUP_JOINTS = {
    'Head': ('head_top', ),
    'Shoulder': ('right_shoulder', 'left_shoulder'),
    'Elbow': ('right_elbow', 'left_elbow'),
    'Wrist': ('right_wrist', 'left_wrist'),
    'Hip': ('right_hip', 'left_hip'),
    'Knee': ('right_knee', 'left_knee'),
    'Ankle': ('right_ankle', 'left_ankle'),
}
MEAN_JOINTS = [
    i for i, n in enumerate(README_ORDER) if n not in ('pelvis', 'thorax')
]


def expected_from_classes(visible: np.ndarray, classes: np.ndarray,
                          weighted: bool) -> dict:
    """PCKh values implied by displacement classes, by counting only."""

    def pck(hit):  # (N, 16) bool -> per-joint percent and 14-joint mean
        per_joint = 100.0 * (hit & visible).sum(0) / visible.sum(0)
        mean = (100.0 * (hit & visible)[:, MEAN_JOINTS].sum() /
                visible[:, MEAN_JOINTS].sum()
                if weighted else per_joint[MEAN_JOINTS].mean())
        return per_joint, mean

    per_joint, mean = pck(classes < 0.5)
    expected = {
        'per_joint': per_joint,
        'Mean': mean,
        'Mean@0.1': pck(classes < 0.1)[1]
    }
    for group, names in GROUP_JOINTS.items():
        expected[group] = np.mean(
            [per_joint[README_ORDER.index(n)] for n in names])
    # A joint d head sizes off (d off the 0.01 grid) is correct from the
    # first threshold k0 / 100 > d on: its curve is a step, whose trapezoid
    # area over x = k / 50 is 0.02 * (50 - k0) + 0.01 (0 if k0 > 50).
    k0 = np.floor(classes * 100) + 1
    area = np.where(k0 <= 50, 0.02 * (50 - k0) + 0.01, 0.0)
    if weighted:
        expected['AUC'] = 100.0 * area[:, MEAN_JOINTS][
            visible[:, MEAN_JOINTS]].mean()
    else:
        expected['AUC'] = np.mean(
            [100.0 * area[visible[:, j], j].mean() for j in MEAN_JOINTS])
    return expected


def test_joint_order_is_the_mpii_readme_order():
    assert MPII_JOINT_NAMES == README_ORDER
    # the constants equal mmpose's own MPII dataset_info
    meta = parse_pose_metainfo(dict(MpiiDataset.METAINFO))
    assert tuple(meta['keypoint_id2name'][i]
                 for i in range(16)) == MPII_JOINT_NAMES


def test_gt_scored_as_prediction_is_100(val_gt):
    stats = mpii_pckh(val_gt.keypoints, val_gt.keypoints, val_gt.visible,
                      val_gt.head_size)
    for key in (*GROUP_JOINTS, 'Mean', 'Mean@0.1'):
        assert stats[key] == 100.0, key
    assert np.all(stats['per_joint'] == 100.0)
    np.testing.assert_array_equal(stats['count'], val_gt.visible.sum(0))
    # distance 0 fails "0 < 0" at the first curve point only: 100 - 1
    assert stats['AUC'] == pytest.approx(99.0, abs=1e-12)
    inclusive = mpii_pckh(
        val_gt.keypoints,
        val_gt.keypoints,
        val_gt.visible,
        val_gt.head_size,
        inclusive=True)
    assert inclusive['AUC'] == pytest.approx(100.0, abs=1e-12)


@pytest.mark.parametrize('weighted', [True, False])
def test_known_displacements_give_exact_values(val_gt, analytic_preds,
                                               analytic_classes, weighted):
    stats = mpii_pckh(
        analytic_preds,
        val_gt.keypoints,
        val_gt.visible,
        val_gt.head_size,
        weighted=weighted)
    expected = expected_from_classes(val_gt.visible, analytic_classes,
                                     weighted)
    np.testing.assert_allclose(
        stats['per_joint'], expected['per_joint'], rtol=0, atol=1e-9)
    for key in (*GROUP_JOINTS, 'Mean', 'Mean@0.1', 'AUC'):
        assert stats[key] == pytest.approx(expected[key], abs=1e-9), key
    # the pattern really mixes outcomes: about 2/3 right at 0.5, 1/3 at 0.1
    assert 60 < stats['Mean'] < 73 and 27 < stats['Mean@0.1'] < 40


def test_weighted_and_unweighted_means_differ_as_defined():
    gt = np.zeros((2, 16, 2))
    visible = np.zeros((2, 16), bool)
    visible[0] = True  # person 0: all 16 visible and exact
    visible[1, 0] = True  # person 1: right ankle only, 1 head size off
    pred = gt.copy()
    pred[1, 0] = [10.0, 0.0]
    stats = mpii_pckh(pred, gt, visible, np.array([10.0, 10.0]))
    assert stats['Mean'] == pytest.approx(100 * 14 / 15)  # 14 of 15 right
    assert stats['Ankle'] == pytest.approx((50 + 100) / 2)
    unweighted = mpii_pckh(
        pred, gt, visible, np.array([10.0, 10.0]), weighted=False)
    assert unweighted['Mean'] == pytest.approx((13 * 100 + 50) / 14)


def test_inclusive_switches_the_compare_at_exactly_the_threshold():
    gt = np.tile(np.array([100.0, 200.0]), (3, 16, 1))
    pred = gt + np.array([5.0, 0.0])  # exactly 0.5 head sizes of 10 px
    visible = np.ones((3, 16), bool)
    head = np.full(3, 10.0)
    assert mpii_pckh(pred, gt, visible, head)['Mean'] == 0.0
    assert mpii_pckh(pred, gt, visible, head, inclusive=True)['Mean'] == 100.
    # thr moves the per-joint values and the Mean, not Mean@0.1
    stats = mpii_pckh(pred, gt, visible, head, thr=0.6)
    assert stats['Mean'] == 100.0 and stats['Mean@0.1'] == 0.0


@pytest.mark.parametrize('group', list(GROUP_JOINTS))
def test_each_group_reads_its_own_joints(group):
    gt = np.random.default_rng(1).uniform(0, 500, (4, 16, 2))
    pred = gt.copy()
    for name in GROUP_JOINTS[group]:
        pred[:, README_ORDER.index(name)] += 100.0  # 10 head sizes off
    stats = mpii_pckh(pred, gt, np.ones((4, 16)), np.full(4, 10.0))
    for other in GROUP_JOINTS:
        assert stats[other] == (0.0 if other == group else 100.0), other


def test_pelvis_thorax_and_invisible_joints_do_not_count():
    gt = np.random.default_rng(2).uniform(0, 500, (5, 16, 2))
    visible = np.ones((5, 16), bool)
    visible[:, 0] = False  # right ankle never annotated
    pred = gt.copy()
    pred[:, [6, 7]] = np.nan  # pelvis, thorax: wrong but not in the Mean
    gt[:, 0] = np.nan  # invisible GT may hold anything
    stats = mpii_pckh(pred, gt, visible, np.full(5, 10.0))
    assert stats['Mean'] == 100.0
    assert np.isnan(stats['per_joint'][0]) and stats['Ankle'] == 100.0
    assert np.all(stats['per_joint'][[6, 7]] == 0.0)  # NaN pred = wrong


def test_head_size_is_0_6_times_the_box_diagonal():
    boxes = np.array([[[10.0, 20.0], [40.0, 60.0]]])  # 30 x 40 box
    assert head_sizes(boxes) == pytest.approx([30.0])


@pytest.mark.parametrize('case, match', [
    ('gt_nan', 'joint 3 of person 1 is visible but not finite'),
    ('head_zero', 'head size of person 2'),
    ('shape', r'pred has shape \(4, 16, 3\)'),
    ('visible_shape', 'visible must have shape'),
])
def test_bad_input_raises_naming_the_person(case, match):
    gt = np.zeros((4, 16, 2))
    pred, visible, head = gt.copy(), np.ones((4, 16)), np.full(4, 10.0)
    if case == 'gt_nan':
        gt[1, 3, 0] = np.nan
    elif case == 'head_zero':
        head[2] = 0.0
    elif case == 'shape':
        pred = np.zeros((4, 16, 3))
    else:
        visible = np.ones((4, 15))
    with pytest.raises(ValueError, match=match):
        mpii_pckh(pred, gt, visible, head)


def test_zero_head_size_is_allowed_without_visible_joints():
    gt = np.zeros((2, 16, 2))
    visible = np.ones((2, 16))
    visible[1] = 0
    stats = mpii_pckh(gt, gt, visible, np.array([10.0, 0.0]))
    assert stats['Mean'] == 100.0 and stats['count'][0] == 1
