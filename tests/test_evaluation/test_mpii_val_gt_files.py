"""The validation GT files agree person by person: valid.json (HRNet format,
read by the dataset) and gt_valid.mat (read by the metric tool), and the
embedded sample in data/ is people 0-4 of both."""
import json
from pathlib import Path

import numpy as np
import pytest

from hourglass_plugin.datasets import MPIIPoseDataset
from hourglass_plugin.evaluation import load_mpii_gt_mat


@pytest.fixture(scope='module')
def valid_json(val_gt_dir: Path) -> list:
    return json.loads((val_gt_dir / 'valid.json').read_text())


def test_json_and_mat_list_the_same_people(valid_json, val_gt):
    assert len(valid_json) == len(val_gt.keypoints) == 2958
    joints = np.array([r['joints'] for r in valid_json])
    visible = np.array([r['joints_vis'] for r in valid_json]) == 1
    np.testing.assert_array_equal(visible, val_gt.visible)
    err = np.abs(joints - val_gt.keypoints)[visible]
    assert err.max() < 1e-2
    assert len({r['image'] for r in valid_json}) == 2729
    # people of one image are consecutive in both files (image order)
    images = [r['image'] for r in valid_json]
    first_seen = {}
    for idx, name in enumerate(images):
        first_seen.setdefault(name, idx)
        assert first_seen[name] == idx or images[idx - 1] == name, idx


def test_head_boxes_sit_on_their_person_and_not_on_the_next(
        valid_json, val_gt):
    joints = np.array([r['joints'] for r in valid_json])[:, [8, 9]]
    visible = (np.array([r['joints_vis'] for r in valid_json]) == 1)[:, [8, 9]]
    margin = MPIIPoseDataset.HEADBOX_MARGIN

    def near(boxes):  # (N,) True if a visible head joint is in grown box
        low, high = boxes.min(axis=1), boxes.max(axis=1)
        grow = margin * np.linalg.norm(high - low, axis=1)[:, None, None]
        inside = ((joints >= low[:, None] - grow) &
                  (joints <= high[:, None] + grow)).all(axis=-1)
        return (inside & visible).any(axis=1)

    has_head = visible.any(axis=1)
    assert has_head.sum() == 2932
    assert near(val_gt.headboxes)[has_head].all()
    shifted = np.roll(val_gt.headboxes, 1, axis=0)
    assert near(shifted)[has_head].mean() < 0.25  # a shift is caught


def test_embedded_sample_is_the_first_five_people(data_dir, valid_json,
                                                  val_gt):
    sample = json.loads(
        (data_dir / 'annotations' / 'mpii_val.json').read_text())
    assert len(sample) == 5
    for mine, theirs in zip(sample, valid_json[:5]):
        for key in ('image', 'center', 'scale', 'joints_vis'):
            assert mine[key] == theirs[key], key
        # neck/head decimals are rounded differently (3 vs 4 places)
        np.testing.assert_allclose(
            mine['joints'], theirs['joints'], rtol=0, atol=1e-3)
    gt5 = load_mpii_gt_mat(str(data_dir / 'annotations' / 'mpii_gt_val.mat'))
    for got, want in zip(gt5, val_gt):
        np.testing.assert_array_equal(got, want[:5])
