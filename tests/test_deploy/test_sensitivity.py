"""Mixed-precision int8: each convolution's int8 cost is measured alone, and
the chosen ones stay fp32 (deploy.sensitivity, quantize_int8's node lists,
tools/int8_sensitivity.py)."""
import onnx
import pytest
import torch

from hourglass_plugin.deploy import (backends, calibration_crops, conv_macs,
                                     conv_node_names, int8_conv_names,
                                     int8_sensitivity, prepare_onnx,
                                     quantize_int8)
from hourglass_plugin.deploy.quantization import output_node_names
from tests.conftest import REPO_ROOT, load_tool


@pytest.fixture(scope='module')
def calib(sample_model, data_dir):
    return calibration_crops(sample_model, data_dir)


def dequantized_weights(onnx_file: str) -> dict:
    """Conv node name -> whether it runs in int8 (``int8_conv_names``)."""
    int8 = set(int8_conv_names(onnx_file))
    graph = onnx.load(onnx_file).graph
    return {n.name: n.name in int8 for n in graph.node if n.op_type == 'Conv'}


def test_conv_node_names_lists_the_quantised_convolutions(sample_onnx):
    names = conv_node_names(sample_onnx)
    assert len(names) > 50 and len(set(names)) == len(names)
    assert not set(names) & set(output_node_names(sample_onnx))
    assert all(name.endswith('Conv') for name in names)


def test_node_lists_choose_what_is_int8(sample_onnx, calib, tmp_path):
    names = conv_node_names(sample_onnx)
    only = str(tmp_path / 'only.onnx')
    quantize_int8(sample_onnx, only, calib, int8_nodes=names[:1])
    int8 = dequantized_weights(only)
    assert int8[names[0]] and not any(int8[n] for n in names[1:])
    kept = str(tmp_path / 'kept.onnx')
    quantize_int8(sample_onnx, kept, calib, fp32_nodes=names[:2])
    int8 = dequantized_weights(kept)
    assert not int8[names[0]] and not int8[names[1]]
    assert all(int8[n] for n in names[2:])


def test_int8_sensitivity_ranks_the_convolutions(sample_onnx, calib,
                                                 real_crops):
    nodes = conv_node_names(sample_onnx)[:3]
    ranking = int8_sensitivity(
        sample_onnx, calib, real_crops['mpii'], nodes, threads=2)
    assert sorted(n for n, _ in ranking) == sorted(nodes)
    costs = [cost for _, cost in ranking]
    assert costs == sorted(costs, reverse=True) and costs[-1] > 0
    with pytest.raises(ValueError, match='no quantised convolution'):
        int8_sensitivity(sample_onnx, calib, real_crops['mpii'], ['nope'])


def test_tool_writes_the_mixed_precision_models(sample_model, data_dir,
                                                tmp_path):
    checkpoint = tmp_path / 'sample.pth'
    torch.save(sample_model.state_dict(), checkpoint)
    tool = load_tool('int8_sensitivity')
    report = tool.main([
        str(REPO_ROOT / 'configs' / 'sample' /
            'newell_hourglass2_sample_128.py'),
        str(checkpoint), '--limit', '3', '--keep-fp32', '0', '1',
        '--calib-data',
        str(data_dir), '--threads', '2', '--work-dir',
        str(tmp_path / 'out')
    ])
    assert len(report['ranking']) == 3
    assert set(report['floor']) == {'mpii', 'coco_gt'}
    for keep in (0, 1):
        model = report['models'][keep]
        kept = [n for n, _ in report['ranking'][:keep]]
        int8 = dequantized_weights(model['file'])
        assert all(not int8[n] for n in kept)
        assert sum(int8.values()) == len(
            conv_node_names(str(tmp_path / 'out' / 'fp32.onnx'))) - keep
        assert all(0 <= s <= 1 for s in model['agreement'].values())


def test_conv_macs_counts_each_convolution(sample_model, sample_onnx):
    macs = conv_macs(sample_onnx)
    assert set(conv_node_names(sample_onnx)) < set(macs)
    stem = sample_model.backbone.stem[0].conv  # 7x7 stride 2: 128 -> 64
    assert macs['/pose_model/backbone/stem/stem.0/conv/Conv'] == (
        64 * 64 * stem.weight.numel())
    convs = [
        m for m in sample_model.modules() if isinstance(m, torch.nn.Conv2d)
    ]
    assert len(macs) == len(convs)


def test_int8_keeps_the_most_sensitive_convolutions_fp32(
        sample_model, data_dir, sample_onnx, monkeypatch, tmp_path):
    names = conv_node_names(sample_onnx)
    ranking = [(names[3], 0.5),
               (names[0], 0.2)] + [(n, 0.01) for n in names[4:]]
    monkeypatch.setattr(backends, 'int8_sensitivity',
                        lambda fp32, calib, crops: ranking)
    int8_file = prepare_onnx(
        sample_model,
        'int8',
        str(tmp_path),
        calib_data=data_dir,
        int8_keep_fp32=2)
    int8 = dequantized_weights(int8_file)
    assert not int8[names[3]] and not int8[names[0]]
    assert int8[names[1]] and int8[names[4]]
    with pytest.raises(ValueError, match='int8_keep_fp32 must be >= 0'):
        prepare_onnx(
            sample_model,
            'int8',
            str(tmp_path),
            calib_data=data_dir,
            int8_keep_fp32=-1)
