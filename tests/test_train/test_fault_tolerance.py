"""Divergence, pre-emption, ``kill -9``, a full disk and a shared work dir in
real tools/train.py runs on data/.

Faults are injected at a fixed iteration by
``tests/test_train/fault_injection.py`` (a NaN weight; a SIGTERM/SIGUSR1/
SIGKILL the process sends itself, as slurm or ``kill -9`` would; a disk that
fills up; a run held at its start), so every run is deterministic. The runs
are short: the sample config with batch 2 (3 iterations per epoch) for at
most 3 epochs, or batch 5 (1 iteration per epoch).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO_ROOT
from tests.test_train.test_training import SAMPLE_CONFIG, run_tool, scalars

pytestmark = pytest.mark.slow

OPTS = [
    '--cfg-options', 'train_dataloader.batch_size=2',
    'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=10',
    'log_processor.window_size=1', 'randomness.deterministic=True',
    'train_cfg.max_epochs=3'
]
ENV = dict(
    os.environ,
    PYTHONPATH=str(REPO_ROOT),
    OMP_NUM_THREADS='1',
    PYTHON=sys.executable)


def fault_config(tmp_path: Path, at_iter: int, fault: str, **hook_args) -> str:
    """The sample config plus ``InjectFaultHook`` (every default hook kept),
    written to ``tmp_path``."""
    cfg = Config.fromfile(REPO_ROOT / SAMPLE_CONFIG)
    cfg.custom_imports.imports.append('tests.test_train.fault_injection')
    cfg.custom_hooks.append(
        dict(
            type='InjectFaultHook', at_iter=at_iter, fault=fault, **hook_args))
    path = tmp_path / f'{fault.lower()}_at_{at_iter}.py'
    cfg.dump(str(path))
    return str(path)


def train_cmd(config: str, work_dir: Path, nproc: int = 1) -> List[str]:
    """tools/train.py (1 process) or tools/dist_train.sh (gloo on CPU)."""
    if nproc == 1:
        return [
            sys.executable, 'tools/train.py', config, '--work-dir',
            str(work_dir)
        ]
    return [
        'bash', 'tools/dist_train.sh', config,
        str(nproc), '--work-dir',
        str(work_dir)
    ]


def run_failing(args: List[str]) -> subprocess.CompletedProcess:
    """Run a command that must exit 1 with one error line and no
    traceback."""
    proc = subprocess.run(
        args,
        cwd=REPO_ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return proc


def last_line(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.strip().splitlines()[-1]


def losses(work_dir: Path) -> Dict[int, float]:
    """Logged loss per iteration; a resumed run's records win."""
    return {r['step']: r['loss'] for r in scalars(work_dir) if 'loss' in r}


def assert_resumed_losses_match(clean: Path, resumed: Path, after: int,
                                iters: int) -> None:
    """Every loss after iteration ``after`` equals the uninterrupted run's."""
    a, b = losses(clean), losses(resumed)
    assert sorted(a) == sorted(b) == list(range(1, iters + 1))
    for step in range(after + 1, iters + 1):
        assert b[step] == pytest.approx(a[step], rel=1e-5), step


@pytest.fixture(scope='module')
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted 1-process run (3 epochs x 3 iterations) the
    interrupted ones are compared with."""
    work_dir = tmp_path_factory.mktemp('clean')
    run_tool([*train_cmd(SAMPLE_CONFIG, work_dir), *OPTS])
    return work_dir


def test_nan_loss_stops_the_run_before_any_checkpoint_of_it(tmp_path):
    """NaN at iteration 5 (epoch 2, batch 2 of 3): one error line naming the
    iteration and the loss terms, exit 1, no checkpoint after epoch 1."""
    work_dir = tmp_path / 'nan'
    proc = run_failing([
        *train_cmd(fault_config(tmp_path, 5, 'nan'), work_dir), *OPTS,
        'train_cfg.max_epochs=2'
    ])
    assert last_line(proc).startswith(
        'error: non-finite loss at iteration 5 (epoch 2, batch 2): '
        'loss=nan, loss_kpt=nan, kpt_stack0=nan, kpt_stack1=nan;')
    assert f'last checkpoint: {work_dir}/epoch_1.pth' in last_line(proc)
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(
        work_dir / 'epoch_1.pth')
    assert sorted(losses(work_dir)) == [1, 2, 3, 4, 5]


def test_kill_9_then_resume_auto_matches_uninterrupted_run(
        tmp_path, clean_run):
    """``kill -9`` in iteration 4 (epoch 2): only complete checkpoints on
    disk; ``--resume auto`` continues from epoch_1.pth with the losses of
    the uninterrupted run."""
    work_dir = tmp_path / 'killed'
    proc = subprocess.run(
        [*train_cmd(fault_config(tmp_path, 4, 'SIGKILL'), work_dir), *OPTS],
        cwd=REPO_ROOT,
        env=ENV,
        capture_output=True,
        timeout=300)
    assert proc.returncode == -9
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']
    assert not list(work_dir.glob('.*.tmp'))
    run_tool([*train_cmd(SAMPLE_CONFIG, work_dir), '--resume', 'auto', *OPTS])
    assert_resumed_losses_match(clean_run, work_dir, 3, 9)
    assert torch.load(
        work_dir / 'epoch_3.pth', weights_only=True)['meta']['iter'] == 9


@pytest.mark.parametrize('nproc,signal_name,rank', [(1, 'SIGTERM', None),
                                                    (2, 'SIGUSR1', 1)])
def test_signal_mid_epoch_then_resume_auto_matches_uninterrupted_run(
        tmp_path, clean_run, nproc, signal_name, rank):
    """A signal at iteration 4 (1 process: epoch 2, batch 1 of 3) or 3 (2
    processes, only rank 1 signalled: epoch 2, batch 1 of 2): every rank
    stops after that iteration, exit 0, ``iter_<n>.pth`` saved and named by
    last_checkpoint; ``--resume auto`` continues mid-epoch and every later
    loss equals the uninterrupted run's."""
    at_iter, iters = (4, 9) if nproc == 1 else (3, 6)
    port = dict(PORT=str(29000 + os.getpid() % 500 + 7 * nproc))
    clean_dir = clean_run
    if nproc > 1:
        clean_dir = tmp_path / 'clean'
        run_tool([*train_cmd(SAMPLE_CONFIG, clean_dir, nproc), *OPTS], **port)

    work_dir = tmp_path / 'preempted'
    config = fault_config(tmp_path, at_iter, signal_name, rank=rank)
    proc = run_tool([*train_cmd(config, work_dir, nproc), *OPTS], **port)
    saved = work_dir / f'iter_{at_iter}.pth'
    assert f'saved {saved} after {at_iter} iterations' in proc.stdout + \
        proc.stderr
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(saved)
    state = torch.load(saved, weights_only=True)
    assert (state['meta']['epoch'], state['meta']['iter']) == (1, at_iter)
    assert 'optimizer' in state
    assert sorted(losses(work_dir)) == list(range(1, at_iter + 1))
    assert not (work_dir / 'epoch_2.pth').exists()

    proc = run_tool([
        *train_cmd(SAMPLE_CONFIG, work_dir, nproc), '--resume', 'auto', *OPTS
    ], **port)
    assert 'Resuming mid-epoch' in proc.stdout + proc.stderr
    assert_resumed_losses_match(clean_dir, work_dir, at_iter, iters)
    assert torch.load(
        work_dir / 'epoch_3.pth', weights_only=True)['meta']['iter'] == iters


def test_full_disk_keeps_the_last_checkpoint_and_the_best_score(tmp_path):
    """Batch 5 (one iteration per epoch), validation every epoch, PCK
    forced to 50, 60, 40. The disk fills at epoch 2's validation: saving
    best_PCK_epoch_2.pth fails with one line naming it, exit 1; the best
    checkpoint of epoch 1 stays (mmengine's hook deletes it before saving
    the new one) and last_checkpoint names epoch_2.pth. The resumed run
    keeps 50 as the best score: epoch 3's 40 is not a new best."""
    work_dir = tmp_path / 'full'
    config = fault_config(tmp_path, 2, 'ENOSPC', scores=[50, 60, 40])
    opts = [
        '--cfg-options', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.interval=1', 'model.test_cfg.flip_test=False'
    ]
    proc = run_failing([*train_cmd(config, work_dir), *opts])
    assert last_line(proc) == ('error: No space left on device '
                               f'({work_dir}/best_PCK_epoch_2.pth)')
    assert sorted(p.name for p in work_dir.glob('*.pth')) == [
        'best_PCK_epoch_1.pth', 'epoch_2.pth'
    ]
    assert not list(work_dir.glob('.*.tmp'))
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                             'epoch_2.pth')

    proc = run_tool([*train_cmd(config, work_dir), '--resume', 'auto', *opts])
    assert sorted(p.name for p in work_dir.glob('*.pth')) == [
        'best_PCK_epoch_1.pth', 'epoch_3.pth'
    ]
    hub = torch.load(
        work_dir / 'epoch_3.pth',
        weights_only=True)['message_hub']['runtime_info']
    assert hub['best_score'] == 50
    assert hub['best_ckpt'] == str(work_dir / 'best_PCK_epoch_1.pth')


def test_second_training_into_the_same_work_dir_refuses(tmp_path):
    """Run A holds the work dir (held at its start until the test lets it
    go); run B, started then, exits 1 with one line naming the lock and A's
    pid; every checkpoint and log folder on disk is A's. A also saves the
    training-batch images and TensorBoard events it was asked for."""
    work_dir = tmp_path / 'shared'
    go = tmp_path / 'go'
    config = fault_config(tmp_path, 0, 'wait', wait_for=str(go))
    first = subprocess.Popen([
        *train_cmd(config, work_dir), '--vis-train-batch', '1',
        '--tensorboard', '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'model.test_cfg.flip_test=False'
    ],
                             cwd=REPO_ROOT,
                             env=ENV,
                             stdout=subprocess.DEVNULL,
                             stderr=(tmp_path / 'first.err').open('w'))
    lock = work_dir / 'train.lock'
    deadline = time.time() + 240
    while time.time() < deadline and first.poll() is None:
        if lock.is_file() and lock.read_text().startswith('{'):
            break
        time.sleep(0.2)
    assert json.loads(lock.read_text())['pid'] == first.pid

    second = run_failing(train_cmd(SAMPLE_CONFIG, work_dir))
    assert last_line(second).startswith(
        f'error: work dir {work_dir} is in use by another training (pid '
        f'{first.pid} on host ')
    assert f'; lock {lock}): wait for it to end or choose another ' \
        '--work-dir' in last_line(second)

    go.touch()
    assert first.wait(timeout=300) == 0, \
        (tmp_path / 'first.err').read_text()[-3000:]
    assert not lock.exists()
    runs = sorted(p.name for p in work_dir.iterdir() if p.is_dir())
    assert len(runs) == 1
    for ckpt in work_dir.glob('*.pth'):
        meta = torch.load(ckpt, weights_only=True)['meta']
        assert meta['experiment_name'].endswith(runs[0]), ckpt
    assert (work_dir / 'epoch_1.pth').is_file()
    assert [
        p.name for p in work_dir.glob('*/vis_data/vis_image/train_batch_*.png')
    ] == ['train_batch_1.png']
    assert list(work_dir.glob('*/vis_data/events.out.tfevents.*'))
