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


def fake_runner(tmp_path, iteration: int, **kwargs) -> SimpleNamespace:
    return SimpleNamespace(
        iter=iteration,
        epoch=1,
        work_dir=str(tmp_path),
        logger=logging.getLogger('test_fault_hooks'),
        **kwargs)


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
    with pytest.raises(ValueError, match='amp_max_consecutive'):
        NonFiniteLossHook(amp_max_consecutive=0)
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


def test_the_fault_hooks_make_one_collective_per_iteration(
        tmp_path, monkeypatch):
    """NonFiniteLossHook and PreemptionCheckpointHook share one all_reduce
    carrying both flags (a 1-process gloo group, the reduction counted)."""
    import os

    import torch.distributed as dist

    from hourglass_plugin.engine import fault_tolerance
    calls = []

    def counting_all_reduce(tensor, op):
        calls.append(tensor.tolist())
        return dist.all_reduce(tensor, op=dist.ReduceOp.MAX)

    monkeypatch.setattr(fault_tolerance, 'all_reduce', counting_all_reduce)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(29600 + os.getpid() % 100))
    dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        nonfinite, preempt = NonFiniteLossHook(), PreemptionCheckpointHook()
        preempt._active = True
        hooks = [nonfinite, preempt]
        ok = dict(loss=torch.tensor(0.1))
        for iteration in range(3):
            runner = fake_runner(tmp_path, iteration, hooks=hooks)
            nonfinite.after_train_iter(runner, iteration, outputs=ok)
            preempt.after_train_iter(runner, iteration)
        assert calls == [[0.0, 0.0]] * 3
        preempt.received = 'SIGTERM'
        runner = fake_runner(tmp_path, 3, hooks=hooks)
        nonfinite.after_train_iter(runner, 3, outputs=ok)
        assert calls[-1] == [0.0, 1.0] and preempt._agree(runner) is True
        assert len(calls) == 4
    finally:
        dist.destroy_process_group()


def test_amp_raises_the_tolerated_non_finite_run(tmp_path, caplog):
    """Under AmpOptimWrapper (skipped steps) the hook allows
    amp_max_consecutive non-finite losses in a row, and logs it."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    amp = AmpOptimWrapper.__new__(AmpOptimWrapper)  # needs no GPU here
    hook = NonFiniteLossHook(max_consecutive=1, amp_max_consecutive=3)
    with caplog.at_level(logging.INFO, logger='test_fault_hooks'):
        hook.before_train(fake_runner(tmp_path, 0, optim_wrapper=amp))
    assert hook.max_consecutive == 3
    assert (
        'NonFiniteLossHook: AmpOptimWrapper skips the update of an '
        'iteration whose loss or gradients overflow; allowing 3 '
        'non-finite losses in a row (max_consecutive 1 -> 3)') in caplog.text
    nan = dict(loss=torch.tensor(float('nan')))
    hook.after_train_iter(fake_runner(tmp_path, 0), 0, outputs=nan)
    hook.after_train_iter(fake_runner(tmp_path, 1), 1, outputs=nan)
    with pytest.raises(NonFiniteLossError, match='iteration 3 '):
        hook.after_train_iter(fake_runner(tmp_path, 2), 2, outputs=nan)
    plain = NonFiniteLossHook()
    plain.before_train(
        fake_runner(
            tmp_path, 0, optim_wrapper=OptimWrapper.__new__(OptimWrapper)))
    assert plain.max_consecutive == 1
