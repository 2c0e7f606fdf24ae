"""Training through tools/train.py, tools/dist_train.sh and tools/test.py.

Each test runs the real command line in a subprocess on the embedded MPII
sample (data/), as a user would.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch

import hourglass_plugin  # noqa: F401  (weights_only-safe checkpoint types)
from tests.conftest import REPO_ROOT

SAMPLE_CONFIG = 'configs/sample/newell_hourglass2_sample_128.py'
ON_DATA = [
    f'{split}_dataloader.dataset.data_root=data/'
    for split in ('train', 'val', 'test')
]


def run_tool(args: List[str],
             timeout: int = 900,
             **env_extra: str) -> subprocess.CompletedProcess:
    """Run a command in the repo root; fail with its output if it fails."""
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO_ROOT),
        OMP_NUM_THREADS='1',
        **env_extra)
    proc = subprocess.run(
        args,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, (
        f'{" ".join(args)} failed ({proc.returncode}):\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def scalars(work_dir: Path) -> List[Dict]:
    """All records of every run's vis_data/scalars.json, in run order."""
    records = []
    for f in sorted(work_dir.glob('*/vis_data/scalars.json')):
        records += [json.loads(line) for line in f.read_text().splitlines()]
    return records


def test_sample_config_trains_and_evaluates(tmp_path):
    work_dir = tmp_path / 'run'
    run_tool([
        sys.executable, 'tools/train.py', SAMPLE_CONFIG, '--work-dir',
        str(work_dir), '--vis-train-batch', '1', '--tensorboard',
        '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2'
    ])
    # GT/prediction/heatmap images of the training batch, and TensorBoard
    batch_images = sorted(
        p.name
        for p in work_dir.glob('*/vis_data/vis_image/train_batch_*.png'))
    assert batch_images == ['train_batch_1.png', 'train_batch_2.png']
    assert list(work_dir.glob('*/vis_data/events.out.tfevents.*'))
    records = scalars(work_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    val = [r for r in records if 'PCK' in r]
    assert len(val) == 1 and 0 <= val[0]['PCK'] <= 100
    assert {'Head PCK', 'Ankle PCK', 'PCK@0.1'} <= set(val[0])
    ckpt = work_dir / 'epoch_2.pth'
    assert ckpt.is_file()
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(ckpt)
    # the checkpoint loads under torch's weights_only default (plugin import
    # registers mmengine's types), with model weights and optimizer state
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert 'optimizer' in state and 'message_hub' in state
    assert any(k.startswith('backbone.') for k in state['state_dict'])

    # tools/test.py on it prints the PCKh table and saves metrics + pred.mat
    out = tmp_path / 'metrics.json'
    pred = tmp_path / 'pred.mat'
    proc = run_tool([
        sys.executable, 'tools/test.py', SAMPLE_CONFIG,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out), '--pred-mat',
        str(pred), '--show-dir', 'vis'
    ])
    metrics = json.loads(out.read_text())
    assert metrics['PCK'] == pytest.approx(val[0]['PCK'], abs=1e-6)
    assert 'Mean@0.1' in proc.stdout or 'PCK@0.1' in proc.stdout
    # tools/eval_mpii.py re-scores the dumped pred.mat to the same numbers
    pckh = tmp_path / 'pckh.json'
    run_tool([
        sys.executable, 'tools/eval_mpii.py',
        str(pred), '--gt', 'data/annotations/mpii_gt_val.mat', '--out-json',
        str(pckh)
    ])
    offline = json.loads(pckh.read_text())
    assert offline['Mean'] == pytest.approx(metrics['PCK'], abs=1e-6)
    assert offline['Mean@0.1'] == pytest.approx(metrics['PCK@0.1'], abs=1e-6)
    shown = list((tmp_path / 'test').rglob('vis/*.jpg')) + list(
        (tmp_path / 'test').rglob('vis/*.png'))
    assert len(shown) == 5


def test_hg52_384_config_trains_two_iterations(tmp_path):
    """The product 384 config with only data root, batch and length changed."""
    work_dir = tmp_path / 'hg52_384'
    run_tool([
        sys.executable, 'tools/train.py', 'configs/hourglass52_mpii_384.py',
        '--work-dir',
        str(work_dir), '--no-validate', '--cfg-options', *ON_DATA,
        'train_dataloader.batch_size=3', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1'
    ])
    losses = [r['loss'] for r in scalars(work_dir) if 'loss' in r]
    assert len(losses) == 2  # 5 images, batch 3 -> 2 iterations
    assert (work_dir / 'epoch_1.pth').is_file()


def test_dist_train_two_cpu_processes(tmp_path):
    """tools/dist_train.sh, 2 processes on CPU (gloo): trains, evaluates."""
    work_dir = tmp_path / 'dist'
    proc = run_tool([
        'bash', 'tools/dist_train.sh', 'configs/hourglass52_mpii_384.py', '2',
        '--work-dir',
        str(work_dir), '--cfg-options', *ON_DATA,
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=3',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.logger.interval=1',
        'model.test_cfg.flip_test=False'
    ],
                    PORT=str(29500 + os.getpid() % 1000))
    log = proc.stdout + proc.stderr
    assert 'CPUDistributedDataParallel' in log or 'world_size: 2' in log \
        or 'distributed: True' in log
    records = scalars(work_dir)
    # 5 images over 2 ranks, batch 2 -> ceil(3/2) = 2 iterations per rank
    assert len([r for r in records if 'loss' in r]) == 2
    val = [r for r in records if 'PCK' in r]
    assert len(val) == 1 and 0 <= val[0]['PCK'] <= 100


def test_kill_and_resume_auto_matches_uninterrupted_run(tmp_path):
    """SIGKILL mid-training, `--resume auto`, same losses as a clean run."""
    opts = [
        '--cfg-options', 'train_cfg.max_epochs=5', 'train_cfg.val_interval=5',
        'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=5',
        'log_processor.window_size=1', 'randomness.deterministic=True'
    ]
    train = [sys.executable, 'tools/train.py', SAMPLE_CONFIG, '--work-dir']
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1')

    clean_dir = tmp_path / 'clean'
    run_tool([*train, str(clean_dir), *opts])

    killed_dir = tmp_path / 'killed'
    proc = subprocess.Popen([*train, str(killed_dir), *opts],
                            cwd=REPO_ROOT,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    marker = killed_dir / 'last_checkpoint'
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if marker.is_file() and marker.read_text().endswith('epoch_2.pth'):
            break
        time.sleep(0.05)
    assert proc.poll() is None, 'training ended before it could be killed'
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed_dir / 'epoch_5.pth').exists()

    run_tool([*train, str(killed_dir), '--resume', 'auto', *opts])
    assert (killed_dir / 'epoch_5.pth').is_file()

    def losses(work_dir: Path) -> Dict[int, float]:
        out = {}
        for r in scalars(work_dir):  # a resumed run's records win
            if 'loss' in r:
                out[r['step']] = r['loss']
        return out

    clean, resumed = losses(clean_dir), losses(killed_dir)
    assert sorted(clean) == sorted(resumed) == list(range(1, 16))
    # 3 iterations per epoch: steps 7.. ran after the resume point (epoch 2)
    for step in range(7, 16):
        assert resumed[step] == pytest.approx(clean[step], rel=1e-5), step
    last_clean = torch.load(clean_dir / 'epoch_5.pth', weights_only=True)
    last_resumed = torch.load(killed_dir / 'epoch_5.pth', weights_only=True)
    assert last_clean['meta']['iter'] == last_resumed['meta']['iter'] == 15
