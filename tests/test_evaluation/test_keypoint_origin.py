"""mmpose's MPII dataset and metric do not pair with ours: each crossing
stops the run at start-up with one line naming both classes, instead of
scoring every prediction 1 px off; the 1-px effect itself is measured."""
import copy

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from hourglass_plugin.evaluation import (KeypointOriginCheckHook,
                                         KeypointOriginError)
from tests.conftest import DATA_DIR, SAMPLE_CONFIG

#: mmpose's own MPII dataset on data/ (its paths are not joined with
#: data_root for the head boxes, so every path is absolute)
MMPOSE_MPII = dict(
    type='MpiiDataset',
    data_mode='topdown',
    ann_file=str(DATA_DIR / 'annotations' / 'mpii_val.json'),
    headbox_file=str(DATA_DIR / 'annotations' / 'mpii_gt_val.mat'),
    data_prefix=dict(img=str(DATA_DIR / 'images') + '/'),
    test_mode=True)


@pytest.fixture(autouse=True)
def no_config_formatting(monkeypatch):
    """Runners here log and dump their config without yapf-formatting it
    (5 s of each Runner's start-up on 2 cores, nothing these tests read)."""
    monkeypatch.setattr(Config, 'pretty_text',
                        property(lambda cfg: str(cfg.filename)))


@pytest.fixture(scope='module')
def sample_cfg() -> Config:
    """The sample config (small Newell network) on data/."""
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(DATA_DIR)
    return cfg


def runner_with(cfg: Config, tmp_path, **evaluation) -> Runner:
    """A Runner of ``cfg`` with the test/val dataset or evaluator changed
    (``dataset=``, ``evaluator=``), logging into ``tmp_path``."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(tmp_path)
    for split in ('val', 'test'):
        if 'dataset' in evaluation:
            pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
            cfg[f'{split}_dataloader'].dataset = dict(
                **evaluation['dataset'], pipeline=pipeline)
        if 'evaluator' in evaluation:
            cfg[f'{split}_evaluator'] = evaluation['evaluator']
    return Runner.from_cfg(cfg)


def test_our_metric_refuses_mmposes_dataset_at_start(sample_cfg, tmp_path):
    runner = runner_with(sample_cfg, tmp_path, dataset=MMPOSE_MPII)
    with pytest.raises(KeypointOriginError) as err:
        runner.test()  # raised while the test loop is built
    message = str(err.value)
    assert '\n' not in message
    assert message.startswith(
        'MPIIPCKhMetric compares 0-based keypoints, but the dataset '
        "metainfo has keypoint_origin=None (mmpose's MpiiDataset")
    assert 'every prediction would score 1 px off' in message


def test_mmposes_metric_refuses_our_dataset_at_start(sample_cfg, tmp_path):
    runner = runner_with(
        sample_cfg, tmp_path, evaluator=dict(type='MpiiPCKAccuracy'))
    with pytest.raises(KeypointOriginError) as err:
        runner.train()  # before the first iteration, not at validation
    assert runner.iter == 0
    message = str(err.value)
    assert '\n' not in message
    assert message.startswith(
        "MpiiPCKAccuracy adds 1 px to every prediction for MpiiDataset's "
        '1-based joints, but the val dataset MPIIPoseDataset has '
        "keypoint_origin='0-based'")
    assert not list(tmp_path.glob('*.pth'))


def test_matching_pairs_start(sample_cfg, tmp_path):
    """mmpose's pair and ours both pass both checks."""
    hook = KeypointOriginCheckHook()
    for name, evaluation in (('mmpose',
                              dict(
                                  dataset=MMPOSE_MPII,
                                  evaluator=dict(type='MpiiPCKAccuracy'))),
                             ('ours', {})):
        runner = runner_with(sample_cfg, tmp_path / name, **evaluation)
        runner._test_loop = runner.build_test_loop(runner._test_loop)
        hook.before_run(runner)  # raises on a mismatch
        metric = runner.test_loop.evaluator.metrics[0]
        assert type(metric).__name__ == dict(
            mmpose='MpiiPCKAccuracy', ours='MPIIPCKhMetric')[name]


def test_a_1px_shift_costs_tompsons_predictions_1_4_points_at_0_1(
        eval_mpii, gt_mat_file, tmp_path, tompson_preds):
    """The bias a crossed pairing would add, on the real predictions stored
    in gt_valid.mat (``--zero-based`` adds 1 px per axis), as
    docs/evaluation.md reports it."""
    from scipy.io import savemat
    pred_file = str(tmp_path / 'tompson.mat')
    savemat(pred_file, {'preds': tompson_preds})
    right = eval_mpii.evaluate_file(pred_file, gt_mat_file)
    shifted = eval_mpii.evaluate_file(pred_file, gt_mat_file, zero_based=True)
    assert (round(right['Mean'], 2), round(right['Mean@0.1'], 2)) == \
        (82.34, 28.97)
    assert (round(shifted['Mean'], 2), round(shifted['Mean@0.1'], 2)) == \
        (82.31, 27.59)
