"""Every CUDA path a user takes first, as the command lines run it.

``pytest -m gpu`` (or ``bash tools/gpu_check.sh``) on a machine with a CUDA
GPU; elsewhere tests/conftest.py skips these tests with their reason. They
use the small sample network (configs/sample/newell_hourglass2_sample_128.py)
on the embedded data/, so the whole module takes a few minutes on one GPU:

- ``tools/train.py --amp``: 2 iterations, finite losses, a checkpoint whose
  optimizer state carries AMP's loss scaler;
- the training benchmark's variants (fp32, channels_last, amp,
  amp+channels_last): real training steps, finite losses;
- ``tools/dist_train.sh ... 2`` with two GPUs (skipped with one);
- ``tools/test.py``: PCKh metrics and a 1-based ``pred.mat``;
- ``tools/topdown_demo.py --device cuda --backend X`` for every backend:
  people with 16 finite keypoints per image, or exit 1 with an ``error:``
  line and no traceback (a backend that cannot run on CUDA here);
- ONNX export of a model on the GPU: ONNX Runtime reproduces its heatmaps;
- ``tools/benchmark.py --device cuda``: timed rows for the sample network.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch

from hourglass_plugin.deploy import BACKENDS
from tests.conftest import DATA_DIR, REPO_ROOT, SAMPLE_CONFIG

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]

#: 2 epochs of the 5 sample people at batch 5: 2 iterations, 1 validation
TWO_ITERATIONS = [
    'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2'
]
COCO = DATA_DIR / 'coco_multi'


def run(args: List[str], **env: str) -> subprocess.CompletedProcess:
    """Run ``python args...`` (or a script) in the repository root."""
    command = args if args[0] == 'bash' else [sys.executable, *args]
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT), **env),
        capture_output=True,
        text=True,
        timeout=540)


def succeeded(proc: subprocess.CompletedProcess) -> None:
    """Fail with the command's output unless it exited 0."""
    assert proc.returncode == 0, (
        f'{" ".join(proc.args)} exited {proc.returncode}:\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')


def logged(work_dir: Path) -> List[Dict]:
    """Every record of the run's ``vis_data/scalars.json``."""
    return [
        json.loads(line)
        for f in sorted(work_dir.glob('*/vis_data/scalars.json'))
        for line in f.read_text().splitlines()
    ]


def assert_two_finite_iterations(work_dir: Path) -> None:
    """Two finite training losses, one validation, the epoch-2 checkpoint."""
    records = logged(work_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    pck = [r['PCK'] for r in records if 'PCK' in r]
    assert len(pck) == 1 and 0 <= pck[0] <= 100
    assert (work_dir / 'epoch_2.pth').is_file()


@pytest.fixture(scope='module')
def amp_run(tmp_path_factory) -> Path:
    """``tools/train.py --amp`` for 2 iterations; its work dir."""
    work_dir = tmp_path_factory.mktemp('amp')
    succeeded(
        run([
            'tools/train.py',
            str(SAMPLE_CONFIG), '--amp', '--work-dir',
            str(work_dir), '--cfg-options', *TWO_ITERATIONS
        ]))
    return work_dir


def test_amp_training_two_iterations(amp_run):
    assert_two_finite_iterations(amp_run)
    ckpt = torch.load(
        amp_run / 'epoch_2.pth', map_location='cpu', weights_only=False)
    # mmengine's AmpOptimWrapper saves its dynamic loss scaler
    assert 'loss_scaler' in ckpt['optimizer']
    assert ckpt['optimizer']['loss_scaler']['scale'] > 0


def test_training_variants_step_on_cuda(tmp_path):
    """fp32, channels_last, amp and amp+channels_last training steps
    (``model.train_step`` with the config's optimizer) on the GPU."""
    out = tmp_path / 'training.json'
    variants = ['fp32', 'channels_last', 'amp', 'amp+channels_last']
    succeeded(
        run([
            'tools/benchmark.py',
            str(SAMPLE_CONFIG), '--device', 'cuda', '--training',
            '--train-batch', '4', '--train-steps', '2', '--train-variants',
            *variants, '--out-json',
            str(out)
        ]))
    records = json.loads(out.read_text())
    assert [r['variant'] for r in records] == variants
    for record in records:
        assert not record.get('skipped'), record
        assert math.isfinite(record['loss']), record
        assert record['device'] == 'cuda' and record['step_s'] > 0


@pytest.mark.skipif(
    torch.cuda.device_count() < 2,
    reason='tools/dist_train.sh ... 2 needs two CUDA GPUs '
    f'(this machine has {torch.cuda.device_count()})')
def test_dist_train_on_two_gpus(tmp_path):
    work_dir = tmp_path / 'ddp'
    succeeded(
        run([
            'bash', 'tools/dist_train.sh',
            str(SAMPLE_CONFIG), '2', '--work-dir',
            str(work_dir), '--cfg-options', *TWO_ITERATIONS
        ],
            PORT='29533'))
    assert_two_finite_iterations(work_dir)
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log


def test_test_tool_on_cuda(amp_run, tmp_path):
    metrics_file, pred_file = tmp_path / 'metrics.json', tmp_path / 'pred.mat'
    succeeded(
        run([
            'tools/test.py',
            str(SAMPLE_CONFIG),
            str(amp_run / 'epoch_2.pth'), '--work-dir',
            str(tmp_path / 'test'), '--out',
            str(metrics_file), '--pred-mat',
            str(pred_file)
        ]))
    metrics = json.loads(metrics_file.read_text())
    assert {'PCK', 'PCK@0.1', 'Head PCK', 'Ankle PCK'} <= set(metrics)
    assert all(0 <= metrics[k] <= 100 for k in ('PCK', 'PCK@0.1'))
    from scipy.io import loadmat
    preds = loadmat(pred_file)['preds']
    assert preds.shape == (5, 16, 2) and np.isfinite(preds).all()


@pytest.mark.parametrize('backend', BACKENDS)
def test_demo_on_cuda_with_each_backend(amp_run, backend, tmp_path):
    """Runs, or stops with one ``error:`` line (a backend this machine
    cannot run on CUDA: the message says what to install or use)."""
    proc = run([
        'tools/topdown_demo.py',
        str(COCO), '--det-json',
        str(COCO / 'test_coco_det_AP_H_56.json'), '--pose-config',
        str(SAMPLE_CONFIG), '--pose-checkpoint',
        str(amp_run / 'epoch_2.pth'), '--device', 'cuda', '--backend', backend,
        '--out-dir',
        str(tmp_path)
    ])
    if proc.returncode != 0:
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert 'error' in last.lower(), proc.stderr[-3000:]
        return
    for image in sorted(COCO.glob('*.jpg')):
        people = json.loads((tmp_path / f'{image.stem}.json').read_text())
        assert people, image.name
        for person in people:
            keypoints = np.asarray(person['keypoints'])
            assert keypoints.shape == (16, 2) and np.isfinite(keypoints).all()
        assert (tmp_path / f'{image.stem}.png').is_file()


def test_onnx_export_of_a_cuda_model(amp_run, tmp_path):
    import onnxruntime as ort
    from mmpose.apis import init_model

    from hourglass_plugin.deploy import export_onnx
    model = init_model(
        str(SAMPLE_CONFIG), str(amp_run / 'epoch_2.pth'), device='cuda')
    onnx_file = export_onnx(model, str(tmp_path / 'sample.onnx'))
    assert next(model.parameters()).is_cuda  # the model stays on the GPU
    torch.manual_seed(0)
    crops = torch.randn(2, 3, 128, 128)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # an fp32 reference
    try:
        with torch.no_grad():
            feats = model.extract_feat(crops.cuda())
            expected = model.head.forward(feats)[-1].cpu().numpy()
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    name = session.get_inputs()[0].name
    got = session.run(None, {name: crops.numpy()})[0]
    assert got.shape == expected.shape == (2, 16, 32, 32)
    scale = np.abs(expected).max()
    assert scale > 0 and np.abs(got - expected).max() <= 1e-3 * scale


def test_benchmark_on_cuda(tmp_path):
    out = tmp_path / 'bench.json'
    variants = ['eager', 'channels_last', 'fp16', 'onnx']
    succeeded(
        run([
            'tools/benchmark.py',
            str(SAMPLE_CONFIG), '--device', 'cuda', '--variants', *variants,
            '--batch-sizes', '1', '32', '--repeats', '3', '--repeats-large',
            '2', '--work-dir',
            str(tmp_path / 'work'), '--out-json',
            str(out)
        ]))
    records = {r['variant']: r for r in json.loads(out.read_text())}
    assert set(records) == set(variants)
    for variant in ('eager', 'channels_last', 'fp16'):
        record = records[variant]
        assert not record.get('skipped'), record
        assert record['latency_ms_b1'] > 0 and record['throughput_b32'] > 0
    # ONNX Runtime without its CUDA provider: measured or skipped with why
    assert records['onnx'].get('skipped') or \
        records['onnx']['latency_ms_b1'] > 0
