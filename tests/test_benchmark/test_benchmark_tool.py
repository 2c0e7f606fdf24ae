"""tools/benchmark.py and hourglass_plugin.benchmark: argument handling per
mode, skips, failed workers, derived figures, the results folder, and end to
end runs on two tiny models (ours and an mmpose one). No timing is
asserted."""
import json
import math
from pathlib import Path

import pytest
import torch

from hourglass_plugin.benchmark import (REQUIRED_KEYS, add_derived, baseline,
                                        machine, markdown, model_specs,
                                        ratio_lines)
from hourglass_plugin.benchmark.measure import run_worker
from hourglass_plugin.deploy.model_zoo import load_pose_model
from tests.conftest import load_tool

TESTS = Path(__file__).resolve().parent
TINY_MMPOSE = TESTS / 'tiny_mmpose_hourglass.py'
HG52_NAME = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'


@pytest.fixture(scope='module')
def bench():
    """``tools/benchmark.py`` imported as a module."""
    return load_tool('benchmark')


@pytest.fixture(scope='module')
def ours(repo_root) -> str:
    return str(repo_root / 'configs' / 'sample' /
               'newell_hourglass2_sample_128.py')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory, ours):
    """Random-init checkpoints of the two tiny models (seeded)."""
    folder = tmp_path_factory.mktemp('ckpt')
    paths = []
    for config in (ours, str(TINY_MMPOSE)):
        torch.manual_seed(0)
        path = folder / (Path(config).stem + '.pth')
        torch.save(load_pose_model(config).state_dict(), path)
        paths.append(str(path))
    return paths


# the conditions of a run, for the Markdown report
RUN_META = dict(
    cpu='test CPU',
    cpu_capability='AVX2',
    cores=2,
    gpu=None,
    device='cpu',
    threads=2,
    torch='x',
    onnxruntime='y',
    gemm_size=64,
    gemm_peak_gflops=200.0,
    other_processes_cores=0.0,
    load_before=0.0,
    load_after=0.0)


def specs_of(bench, argv):
    args = bench.parse_args(argv)
    return model_specs(args.models, args.checkpoints, args.variants,
                       args.mmpose_variants)


def test_model_specs_checkpoint_syntaxes(bench, ours, checkpoints):
    first, second = specs_of(bench, [f'{ours}::{checkpoints[0]}', HG52_NAME])
    assert first['source'] == 'ours' and first['checkpoint'] == checkpoints[0]
    assert first['variants'] == ['eager', 'onnx', 'int8', 'bf16']
    assert second['source'] == 'mmpose' and second['checkpoint'] is None
    assert second['variants'] == ['eager']
    # the name resolves through mmpose's model index to its zoo config
    assert second['config'].endswith(
        f'mmpose/.mim/configs/body_2d_keypoint/topdown_heatmap/mpii/'
        f'{HG52_NAME}.py')

    first, second = specs_of(
        bench,
        [ours, str(TINY_MMPOSE), '--checkpoints', 'none', checkpoints[1]])
    assert first['checkpoint'] is None
    assert second['checkpoint'] == checkpoints[1]

    with pytest.raises(ValueError, match='2 entries for 1 models'):
        specs_of(bench, [ours, '--checkpoints', 'a', 'b'])
    with pytest.raises(ValueError, match='both'):
        specs_of(
            bench,
            [f'{ours}::{checkpoints[0]}', '--checkpoints', checkpoints[0]])
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        specs_of(bench, [f'{ours}::missing.pth'])
    with pytest.raises(FileNotFoundError, match="'no-such-model' is neither"):
        specs_of(bench, ['no-such-model'])


REFUSED = [
    (['a', '--training', '--calib-data', 'd'], '--calib-data', 'training'),
    (['a', '--training', '--repeats', '3'], '--repeats', 'training'),
    (['a', '--training', '--checkpoints', 'c'], '--checkpoints', 'training'),
    (['a', '--train-batch', '8'], '--train-batch', 'inference'),
]


@pytest.mark.parametrize(
    'argv, message', [(argv, f'{flag} does not apply to the {mode} mode')
                      for argv, flag, mode in REFUSED] +
    [(['a', '--images', 'd'], 'unrecognized arguments: --images d')])
def test_options_of_another_mode_are_refused(bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        bench.parse_args(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f'error: {message}')


def test_variants_the_device_cannot_run_are_skipped_with_a_reason(monkeypatch):
    monkeypatch.setattr(machine, '_cpu_has', lambda feature: False)
    assert machine.variant_skip_reason('bf16', 'cpu') == (
        'bf16 is emulated on this CPU (torch reports no native bf16 '
        'instructions); --allow-emulation runs it')
    assert machine.variant_skip_reason('bf16', 'cpu', True) is None
    assert machine.variant_skip_reason('fp16', 'cpu').startswith('fp16 is')
    assert machine.variant_skip_reason('onnx', 'cpu') is None
    monkeypatch.setattr(machine, '_cpu_has',
                        lambda feature: feature == 'avx512_bf16')
    assert machine.variant_skip_reason('bf16', 'cpu') is None
    if not torch.cuda.is_available():
        assert machine.variant_skip_reason(
            'eager',
            'cuda') == ('no CUDA device (torch.cuda.is_available() is False)')


def test_a_worker_over_its_budget_is_a_failure():
    # importing torch alone takes longer than 0.2 s (a crashing worker:
    # test_a_failing_worker_fails_the_run)
    assert run_worker(
        dict(variant='eager', threads=1), 1, budget_s=0.2) == {
            'failed': 'stopped after its 0.2 s time budget (--worker-budget)'
        }


def test_derived_figures_and_ratio_sentences():
    common = dict(macs=10e9, params=1e6, throughput_b32=None)
    records = [
        dict(
            common,
            name='hg',
            source='mmpose',
            variant='eager',
            latency_ms_b1=200.0,
            throughput_b32=5.0),
        dict(
            common,
            name='ours',
            source='ours',
            variant='int8',
            latency_ms_b1=50.0,
            throughput_b32=30.0),
        dict(
            common,
            name='ours',
            source='ours',
            variant='bf16',
            latency_ms_b1=400.0),
        dict(
            common,
            name='ours',
            source='ours',
            variant='fp16',
            latency_ms_b1=None,
            skipped='no CUDA'),
        dict(
            common,
            name='ours',
            source='ours',
            variant='onnx',
            latency_ms_b1=None,
            failed='worker failed (exit code 1): boom'),
    ]
    base = add_derived(records, gemm=200.0)
    assert base is records[0] is baseline(records)
    int8 = records[1]
    assert int8['gflops_b1'] == pytest.approx(400.0)  # 2 * 10 GMAC / 50 ms
    assert int8['gemm_fraction_b1'] == pytest.approx(2.0)
    assert int8['gflops_b32'] == pytest.approx(600.0)  # 2 * 10 GMAC * 30/s
    assert int8['speedup_vs_mmpose_eager_b1'] == pytest.approx(4.0)
    assert int8['speedup_vs_mmpose_eager_b32'] == pytest.approx(6.0)
    assert all(r['gemm_peak_gflops'] == 200.0 for r in records)
    assert 'speedup_vs_mmpose_eager_b32' not in records[2]
    assert 'gflops_b1' not in records[3]
    lines = ratio_lines(records, base)
    assert lines == [
        'ours ours/int8 is 4.00x faster than mmpose hg eager at batch 1 '
        '(50.0 vs 200.0 ms)', 'ours ours/bf16 is 2.00x slower than mmpose '
        'hg eager at batch 1 (400.0 vs 200.0 ms)'
    ]
    assert ratio_lines(records[1:], None)[0].startswith('(no mmpose')
    table = markdown(records, RUN_META)
    assert 'Machine: test CPU (AVX2, 2 cores); device `cpu`' in table
    assert '**200.0 GFLOP/s**' in table
    assert '| 50.0 | 30.00 | 400 (200%) | - | - | - | - | 4.00x |  |' in table
    assert '| skipped: no CUDA |' in table
    assert '| FAILED: worker failed (exit code 1): boom |' in table


def test_a_failing_worker_fails_the_run(bench, ours, checkpoints, tmp_path,
                                        capsys):
    # the checkpoint asks for PCKh; the data root holds no dataset, so the
    # worker's evaluation raises and the worker exits 1
    argv = [
        f'{ours}::{checkpoints[0]}', '--variants', 'eager', '--no-agreement',
        '--batch-sizes', '1', '--repeats', '1', '--warmup', '0', '--threads',
        '1', '--gemm-size', '64', '--data-root',
        str(tmp_path), '--work-dir',
        str(tmp_path / 'work'), '--out-dir',
        str(tmp_path / 'results')
    ]
    assert bench.main(argv) == 1
    saved = json.loads((tmp_path / 'results' / 'inference.json').read_text())
    (record, ) = saved['records']
    assert record['failed'].startswith('worker failed (exit code 1): ')
    assert 'mpii_val.json' in record['failed']
    assert record['latency_ms_b1'] is None and 'skipped' not in record
    assert saved['command'] == 'python tools/benchmark.py ' + ' '.join(argv)
    rendered = (tmp_path / 'results' / 'inference.md').read_text()
    assert '| FAILED: worker failed (exit code 1)' in rendered
    assert f'```bash\n{saved["command"]}\n```' in rendered
    assert f'cpu_capability {torch.backends.cpu.get_cpu_capability()}' in (
        rendered)
    assert '| FAILED: ' in capsys.readouterr().out


@pytest.mark.slow
def test_end_to_end_two_tiny_models(bench, ours, checkpoints, data_dir,
                                    tmp_path, capsys):
    out_json, out_md = tmp_path / 'b.json', tmp_path / 'b.md'
    code = bench.main([
        ours,
        str(TINY_MMPOSE), '--checkpoints', *checkpoints, '--variants', 'eager',
        'onnx', 'int8', 'fp16', '--batch-sizes', '1', '2', '--repeats', '2',
        '--warmup', '1', '--threads', '2', '--gemm-size', '512', '--data-root',
        str(data_dir), '--calib-data',
        str(data_dir), '--eval-batch-size', '5', '--work-dir',
        str(tmp_path / 'work'), '--out-json',
        str(out_json), '--out-md',
        str(out_md), '--out-png',
        str(tmp_path / 'b.png')
    ])
    printed = capsys.readouterr().out
    assert (tmp_path / 'b.png').stat().st_size > 0
    assert code == 0
    saved = json.loads(out_json.read_text())
    assert [(r['source'], r['variant'])
            for r in saved] == [('ours', 'eager'), ('ours', 'onnx'),
                                ('ours', 'int8'), ('ours', 'fp16'),
                                ('mmpose', 'eager')]
    eager, onnx, int8, fp16, mmpose = saved
    # fp16 autocast runs where the CPU has native fp16, else is reported
    if machine.variant_skip_reason('fp16', 'cpu') is None:
        assert fp16['latency_ms_b1'] > 0 and 'skipped' not in fp16
    else:
        assert fp16['latency_ms_b1'] is None and 'failed' not in fp16
        assert 'emulated' in fp16['skipped']
    sizes = {
        'ours':
        sum(p.numel() for p in load_pose_model(ours).parameters()),
        'mmpose':
        sum(p.numel() for p in load_pose_model(str(TINY_MMPOSE)).parameters())
    }
    for rec in (eager, onnx, int8, mmpose):
        assert set(REQUIRED_KEYS) <= set(rec) and 'failed' not in rec
        assert rec['params'] == sizes[rec['source']]
        assert set(rec['latency_ms']) == {'1', '2'}
        for bs, ms in rec['latency_ms'].items():
            assert math.isfinite(ms) and ms > 0
            assert rec['throughput'][bs] == pytest.approx(int(bs) * 1e3 / ms)
        assert rec['throughput_b32'] is None  # batch 32 was not timed
    assert eager['macs'] == onnx['macs'] == int8['macs']
    assert onnx['kpt_agreement'] == 1.0  # exact path
    assert onnx['max_abs_diff'] < 1e-4 * 1e3
    assert int8['kpt_agreement'] >= 0.8  # random weights: test_backends
    assert 'kpt_agreement' not in eager and 'kpt_agreement' not in mmpose
    # the same network through ONNX Runtime scores the same PCKh
    assert onnx['PCKh'] == pytest.approx(eager['PCKh'], abs=1e-6)
    assert onnx['PCKh@0.1'] == pytest.approx(eager['PCKh@0.1'], abs=1e-6)
    assert mmpose['name'] == 'tiny_mmpose_hourglass'
    assert eager['speedup_vs_mmpose_eager_b1'] == pytest.approx(
        mmpose['latency_ms_b1'] / eager['latency_ms_b1'])

    table = out_md.read_text()
    assert table.count('| newell_hourglass2_sample_128 |') == 4
    assert f'| {int8["kpt_agreement"]:.1%} |' in table
    assert 'than mmpose tiny_mmpose_hourglass eager' in printed


@pytest.mark.slow
def test_training_mode_steps_on_real_samples(data_dir):
    from hourglass_plugin.benchmark import run_training, training_markdown
    spec = dict(name='tiny', source='mmpose', config=str(TINY_MMPOSE))
    fp32, nhwc, amp = run_training([spec],
                                   str(data_dir),
                                   batch_size=2,
                                   steps=1,
                                   threads=2,
                                   pipeline_samples=5,
                                   variants=('fp32', 'channels_last', 'amp'))
    assert fp32['input_size'] == [64, 64] and fp32['batch_size'] == 2
    assert fp32['train_images_per_s'] == pytest.approx(2 / fp32['step_s'])
    # same weights (the config's learning rate is 0), same batch, other
    # memory layout: the same loss up to float rounding
    assert nhwc['variant'] == 'channels_last'
    assert nhwc['loss'] == pytest.approx(fp32['loss'], rel=1e-4)
    if not torch.cuda.is_available():
        assert amp['skipped'].startswith('amp needs a CUDA GPU')
        assert amp['train_images_per_s'] is None
        assert '| skipped: amp needs a CUDA GPU' in training_markdown(
            [fp32, nhwc, amp])
    with pytest.raises(ValueError, match='unknown training variant'):
        run_training([spec], str(data_dir), variants=('fp64', ))


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU-only host')
def test_cuda_without_a_gpu_finishes_with_every_variant_skipped(
        bench, ours, tmp_path, capsys):
    out_json = tmp_path / 'cuda.json'
    code = bench.main([
        ours, '--device', 'cuda', '--variants', 'eager', 'fp16', '--work-dir',
        str(tmp_path), '--out-json',
        str(out_json)
    ])
    records = json.loads(out_json.read_text())  # strict JSON: no NaN
    assert code == 0
    assert [r['skipped'] for r in records
            ] == 2 * ['no CUDA device (torch.cuda.is_available() is False)']
    assert records[0]['gemm_peak_gflops'] is None
    assert '| skipped: no CUDA device' in capsys.readouterr().out


@pytest.mark.gpu
def test_cuda_inference_rows_are_measured_or_say_why(bench, ours, tmp_path):
    out_json = tmp_path / 'cuda.json'
    code = bench.main([
        ours, '--device', 'cuda', '--variants', 'eager', 'channels_last',
        'fp16', 'onnx', 'int8', '--batch-sizes', '1', '2', '--repeats', '2',
        '--warmup', '1', '--gemm-size', '1024', '--no-agreement', '--work-dir',
        str(tmp_path), '--out-json',
        str(out_json)
    ])
    assert code == 0
    eager, nhwc, fp16, onnx, int8 = json.loads(out_json.read_text())
    for rec in (eager, nhwc, fp16):  # torch's allocator sees these
        assert rec['latency_ms_b1'] > 0 and rec['peak_mem_mb'] > 0
    assert 'int8 kernels' in int8['skipped']
    if onnx.get('skipped'):  # the CPU build of onnxruntime
        assert 'pip install onnxruntime-gpu' in onnx['skipped']
    else:  # ONNX Runtime's GPU memory is not torch's: not reported
        assert onnx['peak_mem_mb'] is None and onnx['peak_mem_note']


@pytest.mark.gpu
def test_amp_training_steps_on_cuda(data_dir):
    from hourglass_plugin.benchmark import run_training
    spec = dict(name='tiny', source='mmpose', config=str(TINY_MMPOSE))
    fp32, amp = run_training([spec],
                             str(data_dir),
                             batch_size=2,
                             steps=1,
                             device='cuda',
                             pipeline_samples=2,
                             variants=('fp32', 'amp'))
    assert 'skipped' not in amp and amp['step_s'] > 0
    # learning rate 0: the same weights, fp16 autocast rounding only
    assert amp['loss'] == pytest.approx(fp32['loss'], rel=1e-2)


def test_plot_places_each_measured_record(tmp_path, monkeypatch):
    """PCKh against images/s (batch 32 when measured, else 1000 / batch-1
    ms); records without a latency are left out; a PNG is written."""
    import cv2
    from matplotlib.axes import Axes

    from hourglass_plugin.benchmark import plot
    points = []
    scatter = Axes.scatter
    monkeypatch.setattr(
        Axes, 'scatter', lambda ax, x, y, **kw: (points.append(
            (x, y, kw['marker'])), scatter(ax, x, y, **kw))[1])
    base = dict(name='m', variant='eager', macs=2e9)
    records = [
        dict(
            base,
            source='ours',
            latency_ms_b1=20.0,
            throughput_b32=80.0,
            PCKh=88.5),
        dict(
            base,
            source='mmpose',
            latency_ms_b1=50.0,
            throughput_b32=None,
            PCKh=88.9),
        dict(base, source='ours', latency_ms_b1=None, skipped='no CUDA'),
    ]
    out = tmp_path / 'plot' / 'bench.png'
    plot(records, str(out))
    assert points == [(80.0, 88.5, 'o'), (20.0, 88.9, 's')]
    assert cv2.imread(str(out)) is not None
