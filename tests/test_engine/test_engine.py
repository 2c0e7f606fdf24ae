"""Engine helpers: atomic checkpoint writes, weights_only loading, CPU DDP."""
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer

from hourglass_plugin.engine import (AtomicLocalBackend,
                                     CPUDistributedDataParallel, LaunchError,
                                     setup_cpu_distributed)


def test_atomic_backend_is_selected_by_backend_args(tmp_path):
    backend = get_file_backend(
        str(tmp_path / 'x.pth'), backend_args=dict(backend='atomic_local'))
    assert isinstance(backend, AtomicLocalBackend)


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    backend = AtomicLocalBackend()
    backend.put(b'complete checkpoint', target)

    def die(fd):
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(os, 'fsync', die)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half a chec', target)
    assert target.read_bytes() == b'complete checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']


def test_runner_checkpoint_types_load_with_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(np.float64(0.5))
    state = dict(
        message_hub=dict(log_scalars={'train/loss': buf}),
        meta=dict(seed=np.int64(3), arr=np.arange(3)),
        state_dict={'w': torch.ones(2)})
    path = tmp_path / 'ckpt.pth'
    torch.save(state, path)
    loaded = torch.load(path, weights_only=True)  # plugin import allowed it
    assert loaded['meta']['arr'].tolist() == [0, 1, 2]
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5
    # anything else is still refused
    torch.save({'f': os.path.join}, path)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(path, weights_only=True)


def test_setup_cpu_distributed_is_a_no_op_without_launcher():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


def test_setup_cpu_distributed_needs_torchrun_env(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip('CPU-only behaviour')
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(LaunchError, match='torchrun; missing RANK'):
        setup_cpu_distributed(Config(dict()), 'pytorch')


def test_cpu_ddp_wrapper_drops_device_ids(monkeypatch):
    import torch.distributed as dist
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(29800 + os.getpid() % 100))
    dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        module = torch.nn.Linear(2, 1)
        wrapped = CPUDistributedDataParallel(module, device_ids=[0])
        assert wrapped.device_ids is None
        # buffers: mmengine's GPU wrapping (broadcast_buffers=False)
        assert wrapped.broadcast_buffers is False
        out = wrapped(torch.ones(3, 2))
        assert out.shape == (3, 1)
    finally:
        dist.destroy_process_group()


def test_use_amp_switches_the_optim_wrapper_and_keeps_a_set_loss_scale():
    from hourglass_plugin.engine.cli import use_amp
    default = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
    use_amp(default)
    assert default == dict(
        type='AmpOptimWrapper',
        optimizer=dict(type='Adam', lr=1e-3),
        loss_scale='dynamic')
    fixed = dict(type='OptimWrapper', loss_scale=512.0)
    use_amp(fixed)
    assert fixed == dict(type='AmpOptimWrapper', loss_scale=512.0)
