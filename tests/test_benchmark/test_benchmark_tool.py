"""tools/benchmark.py: argument handling, derived figures, and one end-to-end
run on two tiny models (ours and an mmpose one). No timing is asserted."""
import json
from pathlib import Path

import pytest
import torch

from hourglass_plugin.deploy.model_zoo import load_pose_model
from tests.conftest import load_tool

TESTS = Path(__file__).resolve().parent
TINY_MMPOSE = TESTS / 'tiny_mmpose_hourglass.py'


@pytest.fixture(scope='module')
def bench(repo_root):
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


def test_model_specs_checkpoint_syntaxes(bench, ours, checkpoints):
    args = bench.parse_args(
        [f'{ours}::{checkpoints[0]}', 'td-hm_res50_8xb64-210e_mpii-256x256'])
    first, second = bench.model_specs(args)
    assert first['source'] == 'ours' and first['checkpoint'] == checkpoints[0]
    assert first['variants'] == ['eager', 'onnx', 'int8', 'bf16']
    assert second['source'] == 'mmpose' and second['checkpoint'] is None
    assert second['variants'] == ['eager']
    assert second['config'].endswith('td-hm_res50_8xb64-210e_mpii-256x256.py')

    args = bench.parse_args(
        [ours, str(TINY_MMPOSE), '--checkpoints', 'none', checkpoints[1]])
    first, second = bench.model_specs(args)
    assert first['checkpoint'] is None
    assert second['checkpoint'] == checkpoints[1]

    with pytest.raises(ValueError, match='2 entries for 1 models'):
        bench.model_specs(bench.parse_args([ours, '--checkpoints', 'a', 'b']))
    with pytest.raises(ValueError, match='both'):
        bench.model_specs(
            bench.parse_args(
                [f'{ours}::{checkpoints[0]}', '--checkpoints',
                 checkpoints[0]]))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        bench.model_specs(bench.parse_args([f'{ours}::missing.pth']))


def test_derived_figures_and_ratio_sentences(bench):
    records = [
        dict(
            name='hg',
            source='mmpose',
            variant='eager',
            macs=10e9,
            latency_ms_b1=200.0,
            throughput_b32=5.0),
        dict(
            name='ours',
            source='ours',
            variant='int8',
            macs=10e9,
            latency_ms_b1=50.0,
            throughput_b32=30.0),
        dict(
            name='ours',
            source='ours',
            variant='bf16',
            macs=10e9,
            latency_ms_b1=400.0,
            throughput_b32=None),
    ]
    base = bench.add_derived(records, gemm=200.0)
    assert base is records[0]
    assert records[1]['gflops_b1'] == pytest.approx(400.0)  # 2*10G/0.05s
    assert records[1]['gemm_fraction_b1'] == pytest.approx(2.0)
    assert records[1]['speedup_vs_mmpose_eager_b1'] == pytest.approx(4.0)
    assert records[1]['speedup_vs_mmpose_eager_b32'] == pytest.approx(6.0)
    assert 'speedup_vs_mmpose_eager_b32' not in records[2]
    lines = bench.ratio_lines(records, base)
    assert lines[0].startswith('ours ours/int8 is 4.00x faster than mmpose '
                               'hg eager')
    assert '2.00x slower' in lines[1]
    assert bench.ratio_lines(records[1:], None)[0].startswith('(no mmpose')


def test_end_to_end_two_tiny_models(bench, ours, checkpoints, data_dir,
                                    tmp_path, capsys):
    out_json, out_md, out_png = (tmp_path / 'b.json', tmp_path / 'b.md',
                                 tmp_path / 'b.png')
    records = bench.main([
        ours,
        str(TINY_MMPOSE), '--checkpoints', *checkpoints, '--variants', 'eager',
        'onnx', 'int8', '--batch-sizes', '1', '--repeats', '2', '--warmup',
        '1', '--threads', '2', '--gemm-size', '512', '--data-root',
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
                                ('ours', 'int8'), ('mmpose', 'eager')]
    for rec in saved:
        for key in bench.REQUIRED_KEYS:
            assert key in rec, key
        assert rec['params'] > 0 and rec['macs'] > 0
        assert rec['latency_ms_b1'] > 0 and rec['throughput_b32'] is None
        assert rec['gemm_peak_gflops'] > 0 and rec['peak_mem_mb'] > 0
        assert rec['other_processes_cores'] >= 0
        # a checkpoint and data were given: the config's evaluator ran
        assert 0.0 <= rec['PCKh'] <= 100.0
        assert 0.0 <= rec['PCKh@0.1'] <= rec['PCKh']
    eager, onnx, int8, mmpose = saved
    assert onnx['kpt_agreement'] == 1.0  # exact path
    assert 0.0 <= int8['kpt_agreement'] <= 1.0
    assert 'kpt_agreement' not in eager
    # the same network through ONNX Runtime scores the same PCKh
    assert onnx['PCKh'] == pytest.approx(eager['PCKh'], abs=1e-6)
    assert mmpose['name'] == 'tiny_mmpose_hourglass'
    assert eager['speedup_vs_mmpose_eager_b1'] > 0

    table = out_md.read_text()
    assert '| model | source | variant |' in table
    assert 'other processes used' in table
    assert table.count('| newell_hourglass2_sample_128 |') == 3
    assert 'than mmpose tiny_mmpose_hourglass eager' in printed
    assert out_png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
