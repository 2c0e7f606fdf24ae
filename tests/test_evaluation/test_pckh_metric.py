"""MPIIPCKhMetric: same numbers as tools/eval_mpii.py and as mmpose's
MpiiPCKAccuracy, pred.mat output, and the dataset -> metric path on the real
2,958-person validation split."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmpose.evaluation.metrics import MpiiPCKAccuracy
from scipy.io import loadmat, savemat

from hourglass_plugin.datasets import MPIIPoseDataset
from hourglass_plugin.evaluation import MPIIPCKhMetric

GROUP_KEYS = [
    'Head PCK', 'Shoulder PCK', 'Elbow PCK', 'Wrist PCK', 'Hip PCK',
    'Knee PCK', 'Ankle PCK'
]
TOOL_KEYS = {
    f'{g} PCK': g
    for g in ['Head', 'Shoulder', 'Elbow', 'Wrist', 'Hip', 'Knee', 'Ankle']
}
TOOL_KEYS.update({'PCK': 'Mean', 'PCK@0.1': 'Mean@0.1', 'PCK AUC': 'AUC'})


def samples(pred, gt, visible, head_size, head_shape=(1, ), ids=None):
    """Data samples as the evaluator passes them (``to_dict()``), one person
    each."""
    return [
        dict(
            id=i if ids is None else ids[i],
            pred_instances=dict(keypoints=pred[i:i + 1]),
            gt_instances=dict(
                keypoints=gt[i:i + 1],
                keypoints_visible=visible[i:i + 1].astype(np.float32),
                head_size=np.full(head_shape, head_size[i])))
        for i in range(len(gt))
    ]


def run_metric(metric, data_samples, batch=64):
    for start in range(0, len(data_samples), batch):
        metric.process([], data_samples[start:start + batch])
    return metric.evaluate(len(data_samples))


def test_gt_as_prediction_is_100(val_gt):
    gt0 = val_gt.keypoints - 1.0  # our convention: 0-based throughout
    metrics = run_metric(MPIIPCKhMetric(),
                         samples(gt0, gt0, val_gt.visible, val_gt.head_size))
    assert set(metrics) == {*GROUP_KEYS, 'PCK', 'PCK@0.1', 'PCK AUC'}
    assert all(metrics[k] == 100.0 for k in [*GROUP_KEYS, 'PCK', 'PCK@0.1'])


@pytest.mark.parametrize('preds', ['tompson_preds', 'analytic_preds'])
def test_metric_equals_tool_and_mmpose(request, eval_mpii, tmp_path,
                                       gt_mat_file, val_gt, preds):
    pred1 = request.getfixturevalue(preds)  # 1-based, like the GT file
    savemat(tmp_path / 'p.mat', {'preds': pred1})
    tool = eval_mpii.evaluate_file(str(tmp_path / 'p.mat'), gt_mat_file)

    ours = run_metric(
        MPIIPCKhMetric(),
        samples(pred1 - 1.0, val_gt.keypoints - 1.0, val_gt.visible,
                val_gt.head_size))
    for key, tool_key in TOOL_KEYS.items():
        assert ours[key] == pytest.approx(tool[tool_key], abs=1e-9), key

    # mmpose keeps GT 1-based and adds 1 to the (0-based) predictions
    theirs = run_metric(
        MpiiPCKAccuracy(),
        samples(
            pred1 - 1.0,
            val_gt.keypoints,
            val_gt.visible,
            val_gt.head_size,
            head_shape=(1, 1)))
    assert set(theirs) == set(ours) - {'PCK AUC'}
    for key, value in theirs.items():  # mmpose sums in float32
        assert ours[key] == pytest.approx(float(value), abs=1e-4), key


def test_pred_mat_file_is_1_based_in_person_order(eval_mpii, tmp_path,
                                                  gt_mat_file, val_gt,
                                                  tompson_preds):
    pred0 = tompson_preds - 1.0
    data_samples = samples(pred0, val_gt.keypoints - 1.0, val_gt.visible,
                           val_gt.head_size)
    shuffled = [
        data_samples[i]
        for i in np.random.default_rng(0).permutation(len(data_samples))
    ]
    out = tmp_path / 'sub' / 'pred.mat'
    metrics = run_metric(MPIIPCKhMetric(pred_mat_file=str(out)), shuffled)
    written = loadmat(str(out))['preds']
    np.testing.assert_allclose(written, tompson_preds, rtol=0, atol=1e-9)
    rescored = eval_mpii.evaluate_file(str(out), gt_mat_file)
    for key, tool_key in TOOL_KEYS.items():
        assert metrics[key] == pytest.approx(rescored[tool_key], abs=1e-9)


def test_pred_mat_file_refuses_a_partial_person_set(val_gt):
    gt0 = val_gt.keypoints[:4] - 1.0
    data_samples = samples(
        gt0, gt0, val_gt.visible[:4], val_gt.head_size[:4], ids=[0, 1, 2, 5])
    metric = MPIIPCKhMetric(pred_mat_file='unused.mat')
    with pytest.raises(ValueError, match=r'persons 0\.\.3'):
        run_metric(metric, data_samples)


def test_missing_head_size_is_a_clear_error(val_gt):
    data_samples = samples(val_gt.keypoints[:1], val_gt.keypoints[:1],
                           val_gt.visible[:1], val_gt.head_size[:1])
    del data_samples[0]['gt_instances']['head_size']
    with pytest.raises(ValueError, match='id=0.*headbox_file'):
        MPIIPCKhMetric().process([], data_samples)


def test_results_pickle_for_distributed_collection(val_gt):
    metric = MPIIPCKhMetric()
    metric.process([],
                   samples(val_gt.keypoints[:3], val_gt.keypoints[:3],
                           val_gt.visible[:3], val_gt.head_size[:3]))
    restored = pickle.loads(pickle.dumps(metric.results))
    assert restored[2]['id'] == 2
    np.testing.assert_array_equal(restored[1]['gt'], val_gt.keypoints[1])


@pytest.fixture(scope='module')
def val_dataset(tmp_path_factory, val_gt_dir: Path) -> MPIIPoseDataset:
    """MPIIPoseDataset over valid.json + gt_valid.mat (all 2,958 people).
    The images are empty placeholders: the dataset only checks they exist."""
    images = tmp_path_factory.mktemp('val_images')
    records = json.loads((val_gt_dir / 'valid.json').read_text())
    for name in {r['image'] for r in records}:
        (images / name).touch()
    return MPIIPoseDataset(
        ann_file=str(val_gt_dir / 'valid.json'),
        headbox_file=str(val_gt_dir / 'gt_valid.mat'),
        data_prefix=dict(img=str(images)),
        test_mode=True)


def dataset_samples(dataset, pred0):
    """What PackPoseInputs + the evaluator hand the metric, per person."""
    out = []
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        out.append(
            dict(
                id=info['id'],
                pred_instances=dict(keypoints=pred0[idx:idx + 1]),
                gt_instances={
                    k: info[k]
                    for k in ('keypoints', 'keypoints_visible', 'head_size')
                }))
    return out


def test_dataset_and_metric_agree_with_the_tool(val_dataset, eval_mpii,
                                                tmp_path, gt_mat_file, val_gt,
                                                tompson_preds):
    assert len(val_dataset) == 2958
    gt0 = np.concatenate([
        val_dataset.get_data_info(i)['keypoints']
        for i in range(len(val_dataset))
    ])
    perfect = run_metric(MPIIPCKhMetric(), dataset_samples(val_dataset, gt0))
    assert all(perfect[k] == 100.0 for k in [*GROUP_KEYS, 'PCK', 'PCK@0.1'])

    out = tmp_path / 'pred.mat'
    ours = run_metric(
        MPIIPCKhMetric(pred_mat_file=str(out)),
        dataset_samples(val_dataset, tompson_preds - 1.0))
    tool = eval_mpii.evaluate_file(str(out), gt_mat_file)
    # json GT (dataset) and .mat GT (tool) differ by < 5e-4 px: the same
    # counts at 0.5 and 0.1; over the 51 AUC thresholds a couple of the
    # 40,000 joints flip (one flip moves the AUC by 5e-5)
    for key, tool_key in TOOL_KEYS.items():
        tol = 1e-3 if key == 'PCK AUC' else 1e-9
        assert ours[key] == pytest.approx(tool[tool_key], abs=tol), key
