"""Training through tools/train.py and tools/dist_train.sh, evaluation
through tools/test.py, on the embedded MPII sample (data/), as a user runs
them; the checkpoint checks of both tools.

The main job's training is the session fixture ``trained_sample``
(tests/conftest.py); the tests here read its logs and evaluate its
checkpoint.
"""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import torch

import hourglass_plugin  # noqa: F401  (weights_only-safe checkpoint types)
from tests.conftest import REPO_ROOT, load_tool

SAMPLE_CONFIG = 'configs/sample/newell_hourglass2_sample_128.py'
ON_DATA = [
    f'{split}_dataloader.dataset.data_root=data/'
    for split in ('train', 'val', 'test')
]


def run_tool(args: List[str],
             timeout: int = 300,
             **env_extra: str) -> subprocess.CompletedProcess:
    """Run a command in the repo root; fail with its output if it fails."""
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO_ROOT),
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,  # for tools/dist_train.sh
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


@pytest.mark.slow
def test_main_job_training_learns(trained_sample):
    """150 epochs on the 5 people of data/: the loss of the last 10
    iterations is under a fifth of the first 10's, and validation PCKh
    rises from the first evaluation (epoch 10) to the last by > 30 points;
    the checkpoint holds weights and optimizer state and loads under
    torch's weights_only default."""
    records = scalars(trained_sample['work_dir'])
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 150
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first / 5, (first, last)
    pck = [r['PCK'] for r in records if 'PCK' in r]
    assert len(pck) == 15
    assert pck[-1] > pck[0] + 30, pck
    state = torch.load(
        trained_sample['checkpoint'], map_location='cpu', weights_only=True)
    assert 'optimizer' in state and 'message_hub' in state
    assert state['meta']['epoch'] == 150


@pytest.mark.slow
def test_test_tool_evaluates_the_trained_checkpoint(trained_sample, tmp_path):
    """tools/test.py prints the PCKh table, saves metrics equal to the
    training's last validation, a pred.mat that tools/eval_mpii.py re-scores
    to the same numbers, and the 5 pose images of --show-dir."""
    records = scalars(trained_sample['work_dir'])
    val = [r for r in records if 'PCK' in r][-1]
    out, pred = tmp_path / 'metrics.json', tmp_path / 'pred.mat'
    proc = run_tool([
        sys.executable, 'tools/test.py',
        str(trained_sample['config']),
        str(trained_sample['checkpoint']), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out), '--pred-mat',
        str(pred), '--show-dir', 'vis'
    ])
    metrics = json.loads(out.read_text())
    assert metrics['PCK'] == pytest.approx(val['PCK'], abs=1e-6)
    assert {'Head PCK', 'Ankle PCK', 'PCK@0.1'} <= set(metrics)
    assert 'PCK@0.1' in proc.stdout
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


@pytest.mark.slow
def test_a_checkpoint_of_another_model_is_refused(trained_sample, tmp_path):
    """The sample (Newell 2-stack) checkpoint given to the HG-52 config:
    tools/test.py exits 1 with one line naming the checkpoint, the config
    and a mismatching key; the API raises CheckpointError."""
    from hourglass_plugin.engine import CheckpointError, init_pose_model
    ckpt = trained_sample['checkpoint']
    proc = subprocess.run([
        sys.executable, 'tools/test.py', 'configs/hourglass52_mpii_256.py',
        str(ckpt), '--work-dir',
        str(tmp_path), '--cfg-options', *ON_DATA
    ],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith('error: checkpoint does not fit the model of '
                           'configs/hourglass52_mpii_256.py: '), line
    assert line.endswith(f'({ckpt})')
    assert 'backbone.stem.0.conv.weight checkpoint (64, 3, 7, 7) model ' \
        '(128, 3, 7, 7)' in line
    with pytest.raises(CheckpointError, match='does not fit') as info:
        init_pose_model('configs/hourglass52_mpii_256.py', str(ckpt))
    assert str(ckpt) in str(info.value)


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tmp_path):
    """tools/dist_train.sh, the HG-52 256 config in 2 processes on CPU
    (gloo, CPUDistributedDataParallel): one iteration per rank, then the
    distributed validation of the 5 val people."""
    work_dir = tmp_path / 'dist'
    run_tool([
        'bash', 'tools/dist_train.sh', 'configs/hourglass52_mpii_256.py', '2',
        '--work-dir',
        str(work_dir), '--cfg-options', *ON_DATA,
        'train_dataloader.batch_size=3', 'val_dataloader.batch_size=3',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.logger.interval=1',
        'model.test_cfg.flip_test=False'
    ],
             PORT=str(29500 + os.getpid() % 1000))
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log
    records = scalars(work_dir)
    # 5 images over 2 ranks, batch 3 -> 1 iteration per rank
    assert len([r for r in records if 'loss' in r]) == 1
    val = [r for r in records if 'PCK' in r]
    assert len(val) == 1 and {'Head PCK', 'PCK@0.1'} <= set(val[0])
    assert (work_dir / 'epoch_1.pth').is_file()


def test_resume_with_a_checkpoint_of_another_width_restores_nothing(
        tmp_path, capsys):
    """``--resume CKPT`` with a checkpoint of a narrower network (epoch 20,
    optimizer state): refused with one line (file, config, first keys)
    before the epoch, message hub or optimizer are restored."""
    from mmengine.config import Config

    from hourglass_plugin.engine import CheckpointError, init_pose_model
    narrow = Config.fromfile(REPO_ROOT / SAMPLE_CONFIG)
    narrow.model.backbone.feat_channels = 16
    narrow.dump(str(tmp_path / 'narrow.py'))
    model = init_pose_model(str(tmp_path / 'narrow.py'))
    ckpt = tmp_path / 'narrow_epoch_20.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(epoch=20, iter=20),
            optimizer=dict(state={}, param_groups=[])), ckpt)
    train = load_tool('train')
    with pytest.raises(CheckpointError) as info:
        train.main([
            str(REPO_ROOT / SAMPLE_CONFIG), '--work-dir',
            str(tmp_path / 'work'), '--resume',
            str(ckpt)
        ])
    message = str(info.value)
    assert message.startswith(
        f'checkpoint does not fit the model of {REPO_ROOT / SAMPLE_CONFIG}: '
        '449 keys differ in shape (first: backbone.stem.4.conv1.conv.weight '
        'checkpoint (8, 128, 1, 1) model (32, 128, 1, 1)')
    assert message.endswith(f'({ckpt})')
    assert 'resumed epoch' not in capsys.readouterr().out
    assert not (tmp_path / 'work' / 'train.lock').exists()
