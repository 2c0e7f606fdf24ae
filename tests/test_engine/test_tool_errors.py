"""The tools' one-line errors: run_tool, --debug, a full disk, a missing
device, a launcher's missing environment, a work dir in use, and the order
in which command-line options reach the config."""
import errno
import json
import os

import pytest
import torch
from mmengine.config import Config

from hourglass_plugin.engine import (AtomicLocalBackend, DeviceError,
                                     LaunchError, WorkDirLock,
                                     WorkDirLockedError, check_device,
                                     launcher_env)
from hourglass_plugin.engine.cli import run_tool
from tests.conftest import SAMPLE_CONFIG, load_tool


def fail_with(err: BaseException):

    def main(argv):
        raise err

    return main


def test_run_tool_prints_one_line_for_known_errors_only(capsys):
    full = OSError(errno.ENOSPC, 'No space left on device', '/w/epoch_3.pth')
    with pytest.raises(SystemExit) as info:
        run_tool(fail_with(full), [])
    assert info.value.code == 1
    assert capsys.readouterr().err == (
        'error: No space left on device (/w/epoch_3.pth)\n')
    with pytest.raises(OSError):  # --debug: the traceback
        run_tool(fail_with(full), ['--debug'])
    with pytest.raises(PermissionError):  # not a known error
        run_tool(fail_with(PermissionError(13, 'denied', '/w')), [])
    with pytest.raises(SystemExit) as info:
        run_tool(lambda argv: {'PCK': 1.0}, [])  # metrics: exit 0
    assert info.value.code == 0


def test_atomic_write_on_a_full_disk_names_the_file(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_2.pth'
    target.write_bytes(b'last good')

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(OSError) as info:
        AtomicLocalBackend().put(b'new', target)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC,
                                                       str(target))
    assert target.read_bytes() == b'last good'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_2.pth']


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_missing_cuda_is_one_line(tmp_path, capsys):
    with pytest.raises(
            DeviceError,
            match="^device 'cuda:1' needs a CUDA "
            'GPU, but torch sees none'):
        check_device('cuda:1')
    with pytest.raises(DeviceError, match="^unknown device 'gpu' \\(use cpu"):
        check_device('gpu')
    assert check_device('cpu') == 'cpu'
    with pytest.raises(SystemExit) as info:
        run_tool(
            load_tool('train').main,
            [str(SAMPLE_CONFIG), '--amp', '--work-dir',
             str(tmp_path)])
    assert info.value.code == 1
    assert capsys.readouterr().err == (
        'error: --amp needs a CUDA GPU (mmengine AmpOptimWrapper), but '
        'torch sees none; train in fp32 without --amp\n')


def test_launchers_environment(monkeypatch, tmp_path):
    for var in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR',
                'MASTER_PORT', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LaunchError) as info:
        launcher_env('pytorch')
    assert str(info.value) == (
        '--launcher pytorch needs the environment of tools/dist_train.sh or '
        'torchrun; missing RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, '
        'MASTER_PORT')
    # slurm: master = first host of the node list (scontrol stand-in)
    (tmp_path / 'scontrol').write_text('#!/bin/sh\necho node7\necho node8\n')
    (tmp_path / 'scontrol').chmod(0o755)
    monkeypatch.setenv('PATH', f'{tmp_path}:{os.environ["PATH"]}')
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[7-8]')
    assert launcher_env('slurm') == dict(
        RANK='3',
        WORLD_SIZE='8',
        LOCAL_RANK='1',
        MASTER_ADDR='node7',
        MASTER_PORT='29500')
    monkeypatch.setenv('OMPI_COMM_WORLD_RANK', '0')
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '2')
    monkeypatch.setenv('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    with pytest.raises(LaunchError, match='missing MASTER_ADDR$'):
        launcher_env('mpi')
    monkeypatch.setenv('MASTER_ADDR', '10.0.0.1')
    monkeypatch.setenv('MASTER_PORT', '29999')
    assert launcher_env('mpi') == dict(
        RANK='0',
        WORLD_SIZE='2',
        LOCAL_RANK='0',
        MASTER_ADDR='10.0.0.1',
        MASTER_PORT='29999')


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_slurm_launcher_on_cpu_starts_a_gloo_group(monkeypatch):
    import torch.distributed as dist

    from hourglass_plugin.engine import setup_cpu_distributed
    for key, value in dict(
            SLURM_PROCID='0',
            SLURM_NTASKS='1',
            SLURM_LOCALID='0',
            SLURM_NODELIST='localhost',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(29700 + os.getpid() % 100)).items():
        monkeypatch.setenv(key, value)
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.setenv(key, '')  # restored after the test
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    try:
        assert setup_cpu_distributed(cfg, 'slurm') is True
        assert dist.get_backend() == 'gloo' and dist.get_world_size() == 1
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'CPUDistributedDataParallel'
    finally:
        dist.destroy_process_group()


def test_work_dir_lock(tmp_path):
    with WorkDirLock(str(tmp_path)) as lock:
        owner = json.loads((tmp_path / 'train.lock').read_text())
        assert owner['pid'] == os.getpid()
        with pytest.raises(WorkDirLockedError) as info:
            WorkDirLock(str(tmp_path)).__enter__()
        message = str(info.value)
        assert message.startswith(
            f'work dir {tmp_path} is in use by another training (pid '
            f'{os.getpid()} on host {owner["host"]}, started ')
        assert message.endswith(
            f'; lock {lock.path}): wait for it to end or choose another '
            '--work-dir')
    assert not (tmp_path / 'train.lock').exists()
    # a lock file left by a killed run: nobody holds it, it is taken over
    (tmp_path / 'train.lock').write_text(
        json.dumps(dict(pid=999999999, host='h', started=0)))
    with WorkDirLock(str(tmp_path)):
        owner = json.loads((tmp_path / 'train.lock').read_text())
        assert owner['pid'] == os.getpid()


def test_cfg_options_are_applied_last():
    train, test = load_tool('train'), load_tool('test')
    config = str(SAMPLE_CONFIG)
    args = train.parse_args([
        config, '--work-dir', 'a', '--no-validate', '--resume', 'x.pth',
        '--cfg-options', 'work_dir=b', 'load_from=y.pth',
        'val_dataloader.dataset.data_root=data/'
    ])
    cfg = train.merge_args(Config.fromfile(config), args)
    assert (cfg.work_dir, cfg.load_from, cfg.resume) == ('b', 'y.pth', True)
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    args = test.parse_args([
        config, 'c.pth', '--work-dir', 'a', '--cfg-options', 'load_from=d.pth',
        'work_dir=b'
    ])
    cfg = test.merge_args(Config.fromfile(config), args)
    assert (cfg.work_dir, cfg.load_from) == ('b', 'd.pth')
