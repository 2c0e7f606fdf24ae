"""MPIIPoseDataset on the embedded MPII sample (data/, 5 real people) and on
malformed copies of it."""
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from scipy.io import loadmat, savemat

from hourglass_plugin.datasets import MPIIPoseDataset
from hourglass_plugin.engine import DatasetError

# left <-> right partners in MPII order (README), pelvis/thorax/neck/head fixed
FLIP_INDICES = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]
VAL_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(256, 256)),
    dict(type='PackPoseInputs'),
]


def build(data_dir: Path, **kwargs) -> MPIIPoseDataset:
    """The val dataset of data/ as the base config builds it."""
    cfg = dict(
        data_root=str(data_dir),
        ann_file='annotations/mpii_val.json',
        headbox_file='annotations/mpii_gt_val.mat',
        data_prefix=dict(img='images/'),
        test_mode=True)
    cfg.update(kwargs)
    return MPIIPoseDataset(**cfg)


@pytest.fixture(scope='module', autouse=True)
def mmpose_scope():
    """Pipelines name mmpose transforms, as configs do (default_scope)."""
    init_default_scope('mmpose')


@pytest.fixture(scope='module')
def records(data_dir: Path) -> list:
    return json.loads((data_dir / 'annotations' / 'mpii_val.json').read_text())


@pytest.fixture(scope='module')
def headboxes(data_dir: Path) -> np.ndarray:
    mat = loadmat(str(data_dir / 'annotations' / 'mpii_gt_val.mat'))
    return mat['headboxes_src'].transpose(2, 0, 1)  # (5, 2, 2), 1-based


def test_loads_0_based_joints_boxes_and_head_sizes(data_dir, records,
                                                   headboxes):
    dataset = build(data_dir)
    assert len(dataset) == 5
    for idx, record in enumerate(records):
        info = dataset.get_data_info(idx)
        visible = np.array(record['joints_vis'])
        joints = np.array(record['joints'])
        assert info['id'] == idx
        assert info['img_id'] == int(record['image'][:-4])
        assert info['img_path'] == str(data_dir / 'images' / record['image'])
        np.testing.assert_array_equal(info['keypoints_visible'][0], visible)
        np.testing.assert_allclose(
            info['keypoints'][0],
            np.where(visible[:, None] == 1, joints - 1, 0),
            rtol=0,
            atol=1e-4)
        scale_px = record['scale'] * 200
        cx, cy = record['center']
        center = [cx - 1, cy + 15 * record['scale'] - 1]
        np.testing.assert_allclose(info['bbox_center'], [center], atol=1e-3)
        np.testing.assert_allclose(
            info['bbox_scale'], [[scale_px] * 2], atol=1e-3)
        np.testing.assert_allclose(
            info['bbox'], [[
                center[0] - scale_px / 2, center[1] - scale_px / 2,
                center[0] + scale_px / 2, center[1] + scale_px / 2
            ]],
            atol=1e-3)
        (x1, y1), (x2, y2) = headboxes[idx]
        assert info['head_size'] == pytest.approx(
            [0.6 * np.hypot(x2 - x1, y2 - y1)])
    # two of the five people have both ankles unannotated
    ankles = [
        dataset.get_data_info(i)['keypoints_visible'][0, [0, 5]]
        for i in range(5)
    ]
    assert sum(not a.any() for a in ankles) == 2


def test_metainfo_is_mmpose_mpii_even_from_the_repo_root(
        data_dir, repo_root, monkeypatch):
    # mmpose's relative METAINFO path must not find a file of this
    # repository (its loader config is _base_/datasets/mpii_topdown.py)
    monkeypatch.chdir(repo_root)
    dataset = build(data_dir)
    meta = dataset.metainfo
    assert meta['dataset_name'] == 'mpii' and meta['num_keypoints'] == 16
    assert meta['flip_indices'] == FLIP_INDICES
    assert meta['keypoint_id2name'][9] == 'head_top'
    assert len(meta['skeleton_links']) == 15
    assert meta['dataset_keypoint_weights'].shape == (16, )


def test_val_pipeline_returns_a_packed_crop(data_dir, records):
    dataset = build(data_dir, pipeline=VAL_PIPELINE)
    item = dataset[1]
    assert tuple(item['inputs'].shape) == (3, 256, 256)
    sample = item['data_samples']
    assert sample.id == 1 and sample.img_path.endswith(records[1]['image'])
    scale_px = records[1]['scale'] * 200
    np.testing.assert_allclose(
        sample.input_scale, [1.25 * scale_px] * 2,
        rtol=1e-5)  # GetBBoxCenterScale's padding
    gt = sample.gt_instances
    assert gt.head_size.shape == (1, )
    np.testing.assert_allclose(
        gt.keypoints[0], np.array(records[1]['joints']) - 1, atol=1e-4)
    assert item['inputs'].float().std() > 10  # a real image, not padding
    # the crop is centred on the 0-based box centre and holds all joints
    packed = build(
        data_dir,
        pipeline=[
            *VAL_PIPELINE[:-1],
            dict(type='PackPoseInputs', pack_transformed=True)
        ])[1]['data_samples']
    np.testing.assert_allclose(
        packed.input_center, [
            records[1]['center'][0] - 1,
            records[1]['center'][1] + 15 * records[1]['scale'] - 1
        ],
        atol=1e-3)
    crop_joints = packed.gt_instances.transformed_keypoints[0]
    assert ((crop_joints > 0) & (crop_joints < 256)).all()


def test_headbox_file_is_joined_with_data_root(data_dir):
    dataset = build(data_dir)
    assert dataset.headbox_file == str(data_dir / 'annotations' /
                                       'mpii_gt_val.mat')


def test_train_split_needs_no_head_boxes(data_dir):
    dataset = build(data_dir, headbox_file=None, test_mode=False)
    assert len(dataset) == 5 and 'head_size' not in dataset.get_data_info(0)


def write_case(tmp_path: Path, records: list, boxes: np.ndarray):
    """An annotation json and a head-box .mat (1-based, (N, 2, 2))."""
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(records))
    mat = tmp_path / 'boxes.mat'
    savemat(str(mat), {'headboxes_src': boxes.transpose(1, 2, 0)})
    return str(ann), str(mat)


def build_case(data_dir, ann, mat, test_mode=True):
    return MPIIPoseDataset(
        ann_file=ann,
        headbox_file=mat,
        data_prefix=dict(img=str(data_dir / 'images')),
        test_mode=test_mode)


def test_test_split_loads_without_joints(data_dir, tmp_path, records,
                                         headboxes):
    test_records = [{
        k: r[k]
        for k in ('image', 'center', 'scale')
    } for r in records]
    ann, mat = write_case(tmp_path, test_records, headboxes)
    dataset = build_case(data_dir, ann, None)
    assert len(dataset) == 5
    info = dataset.get_data_info(3)
    assert not info['keypoints'].any() and not info['keypoints_visible'].any()
    scale_px = records[3]['scale'] * 200
    np.testing.assert_allclose(
        info['bbox'][0, 2:] - info['bbox'][0, :2], [scale_px] * 2, atol=1e-3)
    with pytest.raises(ValueError, match='record 0 has no joints'):
        build_case(data_dir, ann, None, test_mode=False)
    # the pipeline runs without joints (inference on the test split)
    dataset = MPIIPoseDataset(
        ann_file=ann,
        data_prefix=dict(img=str(data_dir / 'images')),
        pipeline=VAL_PIPELINE,
        test_mode=True)
    assert tuple(dataset[0]['inputs'].shape) == (3, 256, 256)


@pytest.mark.parametrize('case, error, match', [
    ('joint_count', DatasetError,
     r'ann\.json, record 2: joints has shape \(15, 2\), expected \(16, 2\)'),
    ('nan', DatasetError, r'ann\.json, record 1: joints is not finite'),
    ('missing_image', FileNotFoundError,
     r'ann\.json, record 4: image .*999999999\.jpg not found'),
    ('missing_key', DatasetError, r"ann\.json, record 3: missing \['scale'\]"),
    ('bad_vis', DatasetError, r'ann\.json, record 0: joints_vis must be 0/1'),
    ('box_count', DatasetError,
     r'boxes\.mat has 4 head boxes but .*ann\.json has 5 people'),
    ('box_far', DatasetError,
     r'boxes\.mat: head box 0 .* not near the head joints of record 0'),
])
def test_malformed_annotations_name_file_and_record(data_dir, tmp_path,
                                                    records, headboxes, case,
                                                    error, match):
    records = json.loads(json.dumps(records))  # deep copy
    boxes = headboxes.copy()
    if case == 'joint_count':
        records[2]['joints'] = records[2]['joints'][:15]
    elif case == 'nan':
        records[1]['joints'][4][0] = float('nan')
    elif case == 'missing_image':
        records[4]['image'] = '999999999.jpg'
    elif case == 'missing_key':
        del records[3]['scale']
    elif case == 'bad_vis':
        records[0]['joints_vis'][3] = 2
    elif case == 'box_count':
        boxes = boxes[:4]
    else:  # people 0 and 1 get each other's head box
        boxes = boxes[[1, 0, 2, 3, 4]]
    ann, mat = write_case(tmp_path, records, boxes)
    with pytest.raises(error, match=match):
        build_case(data_dir, ann, mat)


def test_a_record_without_a_box_is_refused_or_dropped(data_dir, tmp_path,
                                                      records, headboxes,
                                                      caplog):
    """Center (-1, -1), MPII's "no position": start-up stops naming the
    record, or with bad_boxes='drop' leaves it out (named in the log) and
    keeps every other person with its own head size; a scale outside the
    sane range is kept with a warning."""
    records = json.loads(json.dumps(records))
    records[2]['center'] = [-1, -1]
    records[4]['scale'] = 25.0
    ann, mat = write_case(tmp_path, records, headboxes)
    with pytest.raises(DatasetError) as info:
        build_case(data_dir, ann, mat)
    assert str(info.value) == (
        f'{ann}, record 2: center [-1, -1] is MPII\'s "no position" marker: '
        "no person box to crop (1 such record(s) in the file; "
        "bad_boxes='drop' leaves them out)")
    full = build(data_dir)
    dataset = MPIIPoseDataset(
        ann_file=ann,
        headbox_file=mat,
        data_prefix=dict(img=str(data_dir / 'images')),
        test_mode=True,
        bad_boxes='drop')
    assert [dataset.get_data_info(i)['id'] for i in range(4)] == [0, 1, 3, 4]
    assert dataset.get_data_info(2)['head_size'] == \
        full.get_data_info(3)['head_size']
    assert list(dataset.dropped) == [2]
    assert dataset.scale_warnings == {
        4:
        f'{ann}, record 4: scale 25 outside the sane range 0.2-20 '
        '(person height 40-4000 px)'
    }
    with pytest.raises(ValueError, match='bad_boxes must be one of'):
        build(data_dir, bad_boxes='skip')
