"""Divergence and pre-emption in real tools/train.py runs on data/.

Faults are injected at a fixed iteration by
``tests/test_train/fault_injection.py`` (a NaN weight; a SIGTERM/SIGUSR1
the process sends itself, as slurm would), so every run is deterministic.
"""
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO_ROOT
from tests.test_train.test_training import SAMPLE_CONFIG, run_tool, scalars

OPTS = [
    '--cfg-options', 'train_dataloader.batch_size=2',
    'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=10',
    'log_processor.window_size=1', 'randomness.deterministic=True'
]


def fault_config(tmp_path: Path,
                 at_iter: int,
                 fault: str,
                 rank: Optional[int] = None) -> str:
    """The sample config plus ``InjectFaultHook`` (every default hook kept),
    written to ``tmp_path``."""
    cfg = Config.fromfile(REPO_ROOT / SAMPLE_CONFIG)
    cfg.custom_imports.imports.append('tests.test_train.fault_injection')
    cfg.custom_hooks.append(
        dict(type='InjectFaultHook', at_iter=at_iter, fault=fault, rank=rank))
    path = tmp_path / f'{fault.lower()}_at_{at_iter}.py'
    cfg.dump(str(path))
    return str(path)


def train_cmd(config: str, work_dir: Path, nproc: int) -> List[str]:
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


def losses(work_dir: Path) -> Dict[int, float]:
    """Logged loss per iteration; a resumed run's records win."""
    return {r['step']: r['loss'] for r in scalars(work_dir) if 'loss' in r}


def test_nan_loss_stops_the_run_before_any_checkpoint_of_it(tmp_path):
    """NaN at iteration 5 (epoch 2, batch 2 of 3): one error line naming the
    iteration and the loss terms, exit 1, no checkpoint after epoch 1."""
    import subprocess
    work_dir = tmp_path / 'nan'
    config = fault_config(tmp_path, 5, 'nan')
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [*train_cmd(config, work_dir, 1), *OPTS, 'train_cfg.max_epochs=3'],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith(
        'error: non-finite loss at iteration 5 (epoch 2, batch 2): '
        'loss=nan, loss_kpt=nan, kpt_stack0=nan, kpt_stack1=nan;'), last_line
    assert f'last checkpoint: {work_dir}/epoch_1.pth' in last_line
    assert 'Traceback' not in proc.stderr
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(
        work_dir / 'epoch_1.pth')
    assert sorted(losses(work_dir)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize('nproc,signal_name,rank', [(1, 'SIGTERM', None),
                                                    (2, 'SIGUSR1', 1)])
def test_signal_mid_epoch_then_resume_auto_matches_uninterrupted_run(
        tmp_path, nproc, signal_name, rank):
    """A signal at iteration 4 (1 process: epoch 2, batch 1 of 3) or 3 (2
    processes, only rank 1 signalled: epoch 2, batch 1 of 2): every rank
    stops after that iteration, exit 0, ``iter_<n>.pth`` saved and named by
    last_checkpoint; ``--resume auto`` continues mid-epoch and every later
    loss equals the uninterrupted run's."""
    at_iter, iters = (4, 9) if nproc == 1 else (3, 6)
    opts = [*OPTS, 'train_cfg.max_epochs=3']
    env = dict(PORT=str(29000 + os.getpid() % 500 + 7 * nproc))

    clean_dir = tmp_path / 'clean'
    run_tool([*train_cmd(SAMPLE_CONFIG, clean_dir, nproc), *opts], **env)

    work_dir = tmp_path / 'preempted'
    config = fault_config(tmp_path, at_iter, signal_name, rank)
    proc = run_tool([*train_cmd(config, work_dir, nproc), *opts], **env)
    saved = work_dir / f'iter_{at_iter}.pth'
    assert f'saved {saved} after {at_iter} iterations' in proc.stdout + \
        proc.stderr
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(saved)
    meta = torch.load(saved, weights_only=True)['meta']
    assert (meta['epoch'], meta['iter']) == (1, at_iter)
    assert 'optimizer' in torch.load(saved, weights_only=True)
    assert sorted(losses(work_dir)) == list(range(1, at_iter + 1))
    assert not (work_dir / 'epoch_2.pth').exists()

    proc = run_tool([
        *train_cmd(SAMPLE_CONFIG, work_dir, nproc), '--resume', 'auto', *opts
    ], **env)
    assert 'Resuming mid-epoch' in proc.stdout + proc.stderr
    clean, resumed = losses(clean_dir), losses(work_dir)
    assert sorted(clean) == sorted(resumed) == list(range(1, iters + 1))
    for step in range(at_iter + 1, iters + 1):
        assert resumed[step] == pytest.approx(clean[step], rel=1e-5), step
    assert torch.load(
        work_dir / 'epoch_3.pth', weights_only=True)['meta']['iter'] == iters
