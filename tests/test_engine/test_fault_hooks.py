"""Units of the fault-tolerance hooks, loop selection and error lines (the
end-to-end runs are in tests/test_train/test_fault_tolerance.py)."""
import logging
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from hourglass_plugin.engine import (BadSampleError, NonFiniteLossError,
                                     NonFiniteLossHook,
                                     PreemptionCheckpointHook, fault_message,
                                     use_resumable_train_loop)


def fake_runner(tmp_path, iteration: int) -> SimpleNamespace:
    return SimpleNamespace(
        iter=iteration,
        epoch=1,
        work_dir=str(tmp_path),
        logger=logging.getLogger('test_fault_hooks'))


def test_non_finite_loss_hook_counts_consecutive_iterations(tmp_path):
    hook = NonFiniteLossHook(max_consecutive=2)
    nan = dict(loss=torch.tensor(float('nan')), acc_pose=torch.tensor(0.5))
    ok = dict(loss=torch.tensor(0.1), acc_pose=torch.tensor(0.5))
    hook.after_train_iter(fake_runner(tmp_path, 3), 0, outputs=nan)
    hook.after_train_iter(fake_runner(tmp_path, 4), 1, outputs=ok)  # reset
    hook.after_train_iter(fake_runner(tmp_path, 5), 2, outputs=nan)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(fake_runner(tmp_path, 6), 3, outputs=nan)
    assert str(info.value).startswith(
        'non-finite loss at iteration 7 (epoch 2, batch 4): loss=nan;')
    assert f'last checkpoint: {tmp_path}/epoch_1.pth' in str(info.value)


def test_non_finite_non_loss_terms_alone_do_not_stop(tmp_path):
    hook = NonFiniteLossHook()
    hook.after_train_iter(
        fake_runner(tmp_path, 0),
        0,
        outputs=dict(
            loss=torch.tensor(0.2), acc_pose=torch.tensor(float('nan'))))
    with pytest.raises(NonFiniteLossError, match='loss=inf, loss_kpt=inf'):
        hook.after_train_iter(
            fake_runner(tmp_path, 1),
            1,
            outputs=dict(
                loss=torch.tensor(float('inf')),
                loss_kpt=torch.tensor(float('inf'))))


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match='max_consecutive'):
        NonFiniteLossHook(max_consecutive=0)
    with pytest.raises(ValueError, match='SIGNOPE'):
        PreemptionCheckpointHook(signals=['SIGTERM', 'SIGNOPE'])


def test_epoch_based_train_cfg_gets_the_resumable_loop():
    cfg = Config(dict(train_cfg=dict(by_epoch=True, max_epochs=3)))
    use_resumable_train_loop(cfg)
    assert cfg.train_cfg == dict(
        type='ResumableEpochBasedTrainLoop', max_epochs=3)
    iter_based = Config(dict(train_cfg=dict(by_epoch=False, max_iters=9)))
    use_resumable_train_loop(iter_based)
    assert iter_based.train_cfg == dict(by_epoch=False, max_iters=9)


def test_fault_message_strips_a_data_loader_worker_traceback():
    err = BadSampleError('data/a.json, record 3: cannot load image x.jpg')
    assert fault_message(err) == str(err)
    reraised = BadSampleError(
        'Caught BadSampleError in DataLoader worker process 0.\n'
        'Original Traceback (most recent call last):\n  File "x.py"\n'
        'hourglass_plugin.engine.errors.BadSampleError: data/a.json, '
        'record 3: cannot load image x.jpg')
    assert fault_message(reraised) == str(err)
