"""tools/benchmark.py and hourglass_plugin.benchmark: argument handling,
ceilings, skips, time budget, derived figures, and one end-to-end run on two
tiny models (ours and an mmpose one). No timing is asserted."""
import json
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
    device='cpu',
    threads=2,
    torch='x',
    onnxruntime='y',
    gemm_size=64,
    gemm_peak_gflops=200.0,
    theoretical_peak_gflops=500.0,
    peak_basis='test',
    other_processes_cores=0.0,
    load_before=0.0,
    load_after=0.0,
    clock_ghz=2.0)


def specs_of(bench, argv):
    args = bench.parse_args(argv)
    return model_specs(args.models, args.checkpoints, args.variants,
                       args.mmpose_variants)


def test_model_specs_checkpoint_syntaxes(bench, ours, checkpoints):
    first, second = specs_of(
        bench,
        [f'{ours}::{checkpoints[0]}', 'td-hm_res50_8xb64-210e_mpii-256x256'])
    assert first['source'] == 'ours' and first['checkpoint'] == checkpoints[0]
    assert first['variants'] == ['eager', 'onnx', 'int8', 'bf16']
    assert second['source'] == 'mmpose' and second['checkpoint'] is None
    assert second['variants'] == ['eager']
    assert second['config'].endswith('td-hm_res50_8xb64-210e_mpii-256x256.py')

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


def fake_cpu(flags,
             family=0x19,
             model=0x01,
             vendor='AuthenticAMD',
             clock=2.6,
             cores=2):
    return dict(
        name='test CPU',
        vendor=vendor,
        family=family,
        model=model,
        cores=cores,
        flags=frozenset(flags),
        clock_ghz=clock,
        clock_source='test')


@pytest.mark.parametrize(
    'cpu, fp32, bf16, int8',
    [
        # Zen 3 (the machine): 2 cores x 2 x 256-bit FMA x 2.6 GHz
        (fake_cpu({'fma', 'avx2'}), 166.4, 166.4, 665.6),
        # Zen 4 splits AVX-512 in two 256-bit halves; native bf16 doubles
        (fake_cpu({'fma', 'avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni'},
                  family=0x19,
                  model=0x11), 166.4, 332.8, 665.6),
        # Zen 5 (this CI machine class): 2 x 512-bit FMA
        (fake_cpu({'fma', 'avx2', 'avx512f', 'avx512_bf16'},
                  family=0x1A), 332.8, 665.6, 1331.2),
        # Intel with AMX: tiles bound bf16 / int8
        (fake_cpu({'fma', 'avx2', 'avx512f', 'amx_bf16', 'amx_int8'},
                  vendor='GenuineIntel',
                  family=6,
                  clock=2.0,
                  cores=1), 128.0, 2048.0, 4096.0),
    ])
def test_theoretical_peak_from_what_the_cpu_reports(monkeypatch, cpu, fp32,
                                                    bf16, int8):
    monkeypatch.setattr(machine, 'cpu_info', lambda: cpu)
    monkeypatch.setattr(machine, 'measure_clock_ghz', lambda: None)
    peaks = machine.theoretical_peaks('cpu', threads=8)  # capped at cores
    assert peaks['fp32'] == pytest.approx(fp32)
    assert peaks['bf16'] == pytest.approx(bf16)
    assert peaks['int8'] == pytest.approx(int8)
    assert f'{cpu["cores"]} cores' in peaks['basis']
    assert machine.theoretical_peaks('cpu', threads=1)['fp32'] == \
        pytest.approx(fp32 / cpu['cores'])


def test_the_measured_clock_replaces_a_lower_reported_one(monkeypatch):
    measured = machine.measure_clock_ghz()
    if measured is None:
        pytest.skip('no x86-64 C compiler for the clock probe')
    assert 0.5 < measured < 8.0  # GHz, any x86 core of this century
    monkeypatch.setattr(machine, 'cpu_info',
                        lambda: fake_cpu({'fma', 'avx2'}, clock=0.1))
    peaks = machine.theoretical_peaks('cpu', threads=2)
    assert peaks['clock_ghz'] == measured
    assert peaks['fp32'] == pytest.approx(2 * 32 * measured)
    assert 'measured; the CPU reports 0.10 GHz' in peaks['basis']


def test_variants_the_device_cannot_run_are_skipped_with_a_reason(monkeypatch):
    monkeypatch.setattr(machine, 'cpu_info', lambda: fake_cpu({'fma', 'avx2'}))
    reason = machine.variant_skip_reason('bf16', 'cpu')
    assert 'emulated' in reason and 'avx512_bf16' in reason
    assert machine.variant_skip_reason('bf16', 'cpu', True) is None
    assert 'fp16' in machine.variant_skip_reason('fp16', 'cpu')
    assert machine.variant_skip_reason('onnx', 'cpu') is None
    monkeypatch.setattr(machine, 'cpu_info',
                        lambda: fake_cpu({'avx512f', 'avx512_bf16'}))
    assert machine.variant_skip_reason('bf16', 'cpu') is None
    if not torch.cuda.is_available():
        assert 'no CUDA device' in machine.variant_skip_reason(
            'eager', 'cuda', allow_emulation=True)


def test_a_worker_over_its_budget_is_stopped_and_reported(tmp_path):
    # importing torch alone takes longer than 0.2 s
    result = run_worker(dict(variant='eager', threads=1), 1, budget_s=0.2)
    assert result == {
        'skipped': 'stopped after its 0.2 s time budget '
        '(--worker-budget)'
    }
    failed = run_worker(dict(variant='eager'), 1, budget_s=120)
    assert failed['skipped'].startswith('worker failed (exit code 1)')


def test_derived_figures_and_ratio_sentences():
    records = [
        dict(
            name='hg',
            source='mmpose',
            variant='eager',
            macs=10e9,
            params=1e6,
            latency_ms_b1=200.0,
            throughput_b32=5.0),
        dict(
            name='ours',
            source='ours',
            variant='int8',
            macs=10e9,
            params=1e6,
            latency_ms_b1=50.0,
            throughput_b32=30.0),
        dict(
            name='ours',
            source='ours',
            variant='bf16',
            macs=10e9,
            params=1e6,
            latency_ms_b1=400.0,
            throughput_b32=None),
        dict(
            name='ours',
            source='ours',
            variant='fp16',
            macs=10e9,
            params=1e6,
            latency_ms_b1=None,
            throughput_b32=None,
            skipped='no CUDA'),
    ]
    peaks = dict(fp32=500.0, bf16=1000.0, int8=2000.0, fp16=500.0)
    base = add_derived(records, gemm=200.0, peaks=peaks)
    assert base is records[0] is baseline(records)
    assert records[1]['gflops_b1'] == pytest.approx(400.0)  # 2*10G/0.05s
    assert records[1]['gemm_fraction_b1'] == pytest.approx(2.0)
    # int8 is bounded by the int8 peak, bf16 by the bf16 one
    assert records[1]['arithmetic'] == 'int8'
    assert records[1]['peak_fraction_b1'] == pytest.approx(0.2)
    assert records[2]['peak_fraction_b1'] == pytest.approx(0.05)
    assert records[0]['peak_fraction_b1'] == pytest.approx(0.2)
    assert records[1]['gflops_b32'] == pytest.approx(600.0)  # 2*10G*30/s
    assert records[1]['peak_fraction_b32'] == pytest.approx(0.3)
    assert all(r['theoretical_peak_gflops'] == 500.0 for r in records)
    assert records[1]['speedup_vs_mmpose_eager_b1'] == pytest.approx(4.0)
    assert records[1]['speedup_vs_mmpose_eager_b32'] == pytest.approx(6.0)
    assert 'speedup_vs_mmpose_eager_b32' not in records[2]
    assert 'gflops_b1' not in records[3]
    lines = ratio_lines(records, base)
    assert lines[0].startswith('ours ours/int8 is 4.00x faster than mmpose '
                               'hg eager')
    assert '2.00x slower' in lines[1] and len(lines) == 2
    assert ratio_lines(records[1:], None)[0].startswith('(no mmpose')
    meta = dict(RUN_META)
    table = markdown(records, meta)
    assert '| 20% / 30% (int8) |' in table and 'WARNING' not in table
    records[1]['peak_fraction_b32'] = 1.5  # faster than the reported clock
    assert 'implied clock >= 3.00 GHz' in markdown(records, meta)


def test_a_mixed_precision_int8_model_is_bounded_by_its_blend_of_peaks():
    mixed = dict(variant='int8', int8_keep_fp32=90, int8_mac_share=0.25)
    records = [
        dict(
            mixed,
            name='ours',
            source='ours',
            macs=10e9,
            latency_ms_b1=100.0,
            throughput_b32=None)
    ]
    add_derived(records, gemm=200.0, peaks=dict(fp32=500.0, int8=2000.0))
    # a quarter of the MACs at 2000 GFLOP/s, the rest at 500: 20 GFLOP take
    # at least 2.5 + 30 ms, i.e. 615.4 GFLOP/s; measured 200 GFLOP/s
    assert records[0]['arithmetic'] == 'int8+fp32'
    assert records[0]['variant_peak_gflops'] == pytest.approx(615.4)
    assert records[0]['peak_fraction_b1'] == pytest.approx(200 / 615.4)
    assert '90 most sensitive convs in fp32 (25% of the MACs in int8)' in (
        markdown(records, RUN_META))


def test_end_to_end_two_tiny_models(bench, ours, checkpoints, data_dir,
                                    tmp_path, capsys):
    out_json, out_md, out_png = (tmp_path / 'b.json', tmp_path / 'b.md',
                                 tmp_path / 'b.png')
    records = bench.main([
        ours,
        str(TINY_MMPOSE), '--checkpoints', *checkpoints, '--variants', 'eager',
        'onnx', 'int8', 'fp16', '--batch-sizes', '1', '--repeats', '2',
        '--warmup', '1', '--threads', '2', '--gemm-size', '512', '--data-root',
        str(data_dir), '--calib-data',
        str(data_dir), '--eval-batch-size', '5', '--work-dir',
        str(tmp_path / 'work'), '--out-json',
        str(out_json), '--out-md',
        str(out_md), '--out-png',
        str(out_png)
    ])
    printed = capsys.readouterr().out

    saved = json.loads(out_json.read_text())
    assert saved == json.loads(json.dumps(records))
    assert [(r['source'], r['variant'])
            for r in saved] == [('ours', 'eager'), ('ours', 'onnx'),
                                ('ours', 'int8'), ('ours', 'fp16'),
                                ('mmpose', 'eager')]
    eager, onnx, int8, fp16, mmpose = saved
    # fp16 autocast on a CPU: reported, not run (unless --allow-emulation)
    assert 'emulated' in fp16['skipped'] or 'CUDA' in fp16['skipped']
    assert fp16['latency_ms_b1'] is None and fp16['params'] > 0
    for rec in (eager, onnx, int8, mmpose):
        for key in REQUIRED_KEYS:
            assert key in rec, key
        assert 'skipped' not in rec
        assert rec['params'] > 0 and rec['macs'] > 0
        assert rec['latency_ms_b1'] > 0 and rec['throughput_b32'] is None
        assert rec['gemm_peak_gflops'] > 0 and rec['peak_mem_mb'] > 0
        assert rec['other_processes_cores'] >= 0
        # the theoretical ceiling is above every measured rate
        assert rec['theoretical_peak_gflops'] > 0
        assert 0 < rec['peak_fraction_b1'] <= 1.0
        # a checkpoint and data were given: the config's evaluator ran
        assert 0.0 <= rec['PCKh'] <= 100.0
        assert 0.0 <= rec['PCKh@0.1'] <= rec['PCKh']
    assert onnx['kpt_agreement'] == 1.0  # exact path
    assert int8['kpt_agreement'] >= 0.8  # random weights: test_backends
    assert 'kpt_agreement' not in eager
    # the fp32 network's own agreement under +-1 grey level of input noise,
    # measured once per model (random weights: flat heatmaps, below 100%)
    floor = eager['kpt_agreement_floor']
    assert 0.0 < floor <= 1.0
    assert onnx['kpt_agreement_floor'] == int8['kpt_agreement_floor'] == floor
    assert mmpose['kpt_agreement_floor'] is None  # eager only: no agreement
    # the same network through ONNX Runtime scores the same PCKh
    assert onnx['PCKh'] == pytest.approx(eager['PCKh'], abs=1e-6)
    assert mmpose['name'] == 'tiny_mmpose_hourglass'
    assert eager['speedup_vs_mmpose_eager_b1'] > 0

    table = out_md.read_text()
    assert '| model | source | variant |' in table
    assert 'other processes used' in table and 'theoretical fp32 peak' in table
    assert table.count('| newell_hourglass2_sample_128 |') == 4
    assert '| skipped: ' in table
    assert f'| {int8["kpt_agreement"]:.1%} ({floor:.1%}) |' in table
    assert '(floor): the share of joints the fp32 network itself' in table
    assert 'than mmpose tiny_mmpose_hourglass eager' in printed
    assert out_png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_pipeline_mode_times_every_stage(ours, checkpoints, data_dir,
                                         coco_dir):
    from hourglass_plugin.apis import CocoDetectionFile, select_person_boxes
    from hourglass_plugin.apis.image_io import load_image
    from hourglass_plugin.benchmark import run_pipeline
    from hourglass_plugin.benchmark.pipeline import STAGES
    spec = dict(name='sample', config=ours, checkpoint=checkpoints[0])
    (rec, ) = run_pipeline(spec, ['onnx'], str(data_dir), threads=2, passes=1)
    source = CocoDetectionFile(coco_dir / 'test_coco_det_AP_H_56.json',
                               coco_dir / 'test_coco.json')
    people = 0
    for path in sorted(coco_dir.glob('*.jpg')):
        image = load_image(str(path))
        boxes, _ = select_person_boxes(*source(image, str(path), None),
                                       image.shape[:2], str(path), 0.3, 0.3)
        people += len(boxes)
    assert rec['images'] == 4 and rec['people'] == people > 4
    assert sum(rec['share'].values()) == pytest.approx(1.0)
    assert all(rec['ms_per_image'][s] >= 0 for s in STAGES)
    assert rec['share']['network'] > 0 and rec['network_noflip_ms'] > 0
    assert rec['people_per_s'] == pytest.approx(rec['images_per_s'] * people /
                                                4)
    assert rec['dominant'] in STAGES


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
    assert fp32['pipeline_images_per_s'] > 0
    assert 0 < fp32['loss'] < 1e3
    # same weights, same batch, other memory layout: the same training (the
    # last loss follows one optimizer step, which amplifies float rounding)
    assert nhwc['variant'] == 'channels_last' and nhwc['step_s'] > 0
    assert nhwc['loss'] == pytest.approx(fp32['loss'], rel=1e-3)
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
    records = bench.main([
        ours, '--device', 'cuda', '--variants', 'eager', 'fp16', '--work-dir',
        str(tmp_path), '--out-json',
        str(out_json)
    ])
    assert [r['skipped'] for r in records
            ] == 2 * ['no CUDA device (torch.cuda.is_available() is False)']
    assert 'NaN' not in out_json.read_text()  # strict JSON
    assert json.loads(out_json.read_text())[0]['gemm_peak_gflops'] is None
    assert '| skipped: no CUDA device' in capsys.readouterr().out
