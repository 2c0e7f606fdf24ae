"""tools/slurm_train.sh with stand-in ``srun``/``scontrol`` (no slurm here):
the early-warning signal reaches srun, and REQUEUE=1 requeues the job only
when the run stopped at a pre-emption checkpoint."""
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def fake_slurm(bin_dir: Path, log: Path) -> None:
    """``srun`` and ``scontrol`` that append their arguments to ``log``."""
    bin_dir.mkdir()
    for name in ('srun', 'scontrol'):
        tool = bin_dir / name
        tool.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> {log}\n')
        tool.chmod(0o755)


@pytest.mark.parametrize('last,requeued', [('iter_12.pth', True),
                                           ('epoch_3.pth', False)])
def test_signal_and_requeue(tmp_path, last, requeued):
    log = tmp_path / 'calls.txt'
    fake_slurm(tmp_path / 'bin', log)
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / last))
    env = dict(
        os.environ,
        PATH=f'{tmp_path / "bin"}:{os.environ["PATH"]}',
        SLURM_JOB_ID='42',
        REQUEUE='1',
        GPUS='2',
        GPUS_PER_NODE='2')
    subprocess.run([
        'bash', 'tools/slurm_train.sh', 'part', 'job', 'cfg.py',
        str(work_dir), '--resume', 'auto'
    ],
                   cwd=REPO_ROOT,
                   env=env,
                   check=True,
                   timeout=60)
    calls = log.read_text().splitlines()
    assert calls[0].startswith('srun -p part --job-name=job')
    assert '--signal=USR1@60' in calls[0].split()
    assert calls[0].endswith(f'tools/train.py cfg.py --work-dir={work_dir} '
                             '--launcher=slurm --resume auto')
    assert calls[1:] == (['scontrol requeue 42'] if requeued else [])


def test_signal_can_be_changed_or_disabled(tmp_path):
    log = tmp_path / 'calls.txt'
    fake_slurm(tmp_path / 'bin', log)
    path = f'{tmp_path / "bin"}:{os.environ["PATH"]}'
    for signal, expected in [('TERM@120', '--signal=TERM@120'), ('', None)]:
        log.unlink(missing_ok=True)
        subprocess.run(['bash', 'tools/slurm_train.sh', 'p', 'j', 'c.py', 'w'],
                       cwd=REPO_ROOT,
                       env=dict(os.environ, PATH=path, SIGNAL=signal),
                       check=True,
                       timeout=60)
        args = log.read_text().split()
        assert [a for a in args if a.startswith('--signal')
                ] == ([expected] if expected else [])


def test_gpu_request_follows_gpus_per_node_or_is_dropped(tmp_path):
    """``--gres=gpu:<GPUS_PER_NODE>`` by default; ``GRES=`` (CPU-only nodes)
    requests no GPU."""
    log = tmp_path / 'calls.txt'
    fake_slurm(tmp_path / 'bin', log)
    path = f'{tmp_path / "bin"}:{os.environ["PATH"]}'
    for extra, expected in [(dict(GPUS_PER_NODE='4'), ['--gres=gpu:4']),
                            (dict(GRES=''), [])]:
        log.unlink(missing_ok=True)
        subprocess.run(['bash', 'tools/slurm_train.sh', 'p', 'j', 'c.py', 'w'],
                       cwd=REPO_ROOT,
                       env=dict(os.environ, PATH=path, **extra),
                       check=True,
                       timeout=60)
        args = log.read_text().split()
        assert [a for a in args if a.startswith('--gres')] == expected
