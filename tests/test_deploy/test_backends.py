"""Every backend computes the eager network: exactly (fp32 paths) or with a
measured keypoint agreement (int8, bf16), on real person crops."""
import os

import numpy as np
import onnx
import pytest
import torch

from hourglass_plugin.deploy import (BackendPoseEstimator, OrtHeatmapRunner,
                                     TorchHeatmapRunner, build_heatmap_runner,
                                     calibration_crops, dataset_crops,
                                     keypoint_agreement, last_stack,
                                     quantize_int8, reference_heatmaps)
from hourglass_plugin.deploy.quantization import output_node_names

INPUT_SIZE = (128, 128)
K = 16

# Random-init weights give flat heatmaps (peak ~3e3, no clear maximum), so
# any rounding moves some argmaxes; what a working reduced-precision path
# keeps is the heatmaps' shape. Measured on this model and data/ (2 cores,
# onnxruntime 1.32): int8 static 0.045-0.050 relative L2 error and 88-91% of
# joints within 1 heatmap px, int8 dynamic 0.038 / 92%, bf16 0.010 / 98%. A
# broken path (wrong scales, wrong layout, unquantised output) is off by
# ~1.0.
RANDOM_MAX_REL_ERR = {'int8': 0.10, 'int8-dynamic': 0.10, 'bf16': 0.03}
RANDOM_MIN_SHARE = {'int8': 0.80, 'int8-dynamic': 0.80, 'bf16': 0.95}


def relative_error(ref: torch.Tensor, out: torch.Tensor) -> float:
    """||out - ref|| / ||ref|| over all heatmaps (L2)."""
    return float((out - ref).norm() / ref.norm())


def exact_tol(ref: torch.Tensor) -> float:
    """1e-4 for heatmaps in [0, 1] (trained models); relative to the peak
    for the random-init test model, whose heatmaps reach ~1e3."""
    return 1e-4 * max(1.0, float(ref.abs().max()))


def test_onnx_fp32_equals_eager_on_real_crops(sample_model, sample_onnx,
                                              real_crops):
    runner = OrtHeatmapRunner(sample_onnx, threads=2)
    for name, crops in real_crops.items():
        ref = reference_heatmaps(sample_model, crops)
        out = runner(crops)
        assert out.shape == (len(crops), K, 32, 32), name
        assert out.dtype == torch.float32
        assert (out - ref).abs().max() <= exact_tol(ref), name
        agreement = keypoint_agreement(sample_model, ref, out, INPUT_SIZE)
        assert agreement['share'] == 1.0, (name, agreement)
        assert agreement['joints'] == len(crops) * K


def test_onnx_dynamic_batch_axis(sample_model, sample_onnx, real_crops):
    runner = OrtHeatmapRunner(sample_onnx, threads=2)
    crops = real_crops['mpii'][:3]
    batch3 = runner(crops)
    singles = torch.cat([runner(crop[None]) for crop in crops])
    assert batch3.shape[0] == 3 and singles.shape[0] == 3
    ref = reference_heatmaps(sample_model, crops)
    assert (batch3 - singles).abs().max() <= exact_tol(ref)
    assert (batch3 - ref).abs().max() <= exact_tol(ref)


@pytest.mark.parametrize('backend', ['eager', 'channels_last'])
def test_exact_torch_paths(sample_model, real_crops, backend):
    crops = real_crops['coco_gt']
    ref = reference_heatmaps(sample_model, crops)
    out = build_heatmap_runner(sample_model, backend)(crops)
    assert (out - ref).abs().max() <= exact_tol(ref)


def test_int8_static_quantises_and_reports_agreement(sample_model, sample_onnx,
                                                     real_crops, real_sources,
                                                     tmp_path):
    calib = dataset_crops(sample_model, real_sources['coco_det'], flip=True)
    int8_file = quantize_int8(sample_onnx, str(tmp_path / 'int8.onnx'), calib)
    graph = onnx.load(int8_file).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count('QuantizeLinear') > 10 and 'DequantizeLinear' in ops
    # the heatmap-writing conv stays fp32: no QDQ pair right before the output
    (last, ) = output_node_names(int8_file)
    assert next(n for n in graph.node if n.name == last).op_type == 'Conv'

    runner = OrtHeatmapRunner(int8_file, threads=2)
    for name, crops in real_crops.items():
        ref = reference_heatmaps(sample_model, crops)
        out = runner(crops)
        assert out.shape == ref.shape
        agreement = keypoint_agreement(sample_model, ref, out, INPUT_SIZE)
        assert agreement['share'] >= RANDOM_MIN_SHARE['int8'], name
        assert relative_error(ref, out) <= RANDOM_MAX_REL_ERR['int8'], name
        assert agreement['joints'] == len(crops) * K
        # quantisation really changed the numbers
        assert agreement['max_abs_diff'] > exact_tol(ref)


def test_int8_dynamic_runs(sample_model, sample_onnx, real_crops, tmp_path):
    int8_file = quantize_int8(
        sample_onnx, str(tmp_path / 'dyn.onnx'), mode='dynamic')
    crops = real_crops['mpii']
    out = OrtHeatmapRunner(int8_file, threads=2)(crops)
    ref = reference_heatmaps(sample_model, crops)
    share = keypoint_agreement(sample_model, ref, out, INPUT_SIZE)['share']
    assert share >= RANDOM_MIN_SHARE['int8-dynamic']
    assert relative_error(ref, out) <= RANDOM_MAX_REL_ERR['int8-dynamic']
    assert (out - ref).abs().max() > exact_tol(ref)


def test_bf16_autocast_runs_in_reduced_precision(sample_model, real_crops):
    crops = real_crops['mpii']
    ref = reference_heatmaps(sample_model, crops)
    out = TorchHeatmapRunner(sample_model, precision='bf16')(crops)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    agreement = keypoint_agreement(sample_model, ref, out, INPUT_SIZE)
    assert agreement['share'] >= RANDOM_MIN_SHARE['bf16']
    assert relative_error(ref, out) <= RANDOM_MAX_REL_ERR['bf16']
    assert agreement['max_abs_diff'] > exact_tol(ref)


def test_fp16_autocast_runs_on_the_cpu_too(sample_model, real_crops):
    # emulated on CPUs without AVX512-FP16 (the benchmark skips it there
    # unless --allow-emulation); measured 0.2% relative error
    crops = real_crops['mpii'][:1]
    ref = reference_heatmaps(sample_model, crops)
    out = TorchHeatmapRunner(sample_model, precision='fp16')(crops)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert 0 < relative_error(ref, out) <= RANDOM_MAX_REL_ERR['bf16']


def test_agreement_counts_joints_within_one_heatmap_pixel(sample_model):
    # one peak per joint, moved by 0 px (8 joints) or 3 px (8 joints)
    ref = torch.zeros(1, K, 32, 32)
    test = torch.zeros(1, K, 32, 32)
    for k in range(K):
        ref[0, k, 10, 10] = 1.0
        test[0, k, 10, 10 + (3 if k % 2 else 0)] = 1.0
    agreement = keypoint_agreement(sample_model, ref, test, INPUT_SIZE)
    assert agreement['share'] == 0.5
    assert np.isclose(agreement['max_px'], 3.0)


def test_bad_inputs_raise(sample_model, sample_onnx, tmp_path):
    runner = OrtHeatmapRunner(sample_onnx, threads=1)
    with pytest.raises(ValueError, match='128'):
        runner(torch.zeros(1, 3, 64, 64))
    with pytest.raises(FileNotFoundError):
        OrtHeatmapRunner(str(tmp_path / 'missing.onnx'))
    with pytest.raises(ValueError, match='unknown backend'):
        build_heatmap_runner(sample_model, 'tensorrt')
    with pytest.raises(ValueError, match='calib_crops'):
        quantize_int8(sample_onnx, str(tmp_path / 'q.onnx'), None)
    with pytest.raises(ValueError, match='calibration data'):
        build_heatmap_runner(sample_model, 'int8')
    with pytest.raises(FileNotFoundError, match='no calibration images'):
        build_heatmap_runner(sample_model, 'int8', calib_data=str(tmp_path))
    with pytest.raises(ValueError, match=r'\(N>=1, 3, H, W\)'):
        calibration_crops(sample_model, torch.zeros(0, 3, 128, 128))
    with pytest.raises(ValueError, match='fp32, bf16 or fp16'):
        TorchHeatmapRunner(sample_model, precision='int4')
    with pytest.raises(TypeError, match='heatmaps'):
        last_stack((torch.zeros(2, 16), ))
    with pytest.raises(ValueError, match='same non-empty shape'):
        keypoint_agreement(sample_model, torch.zeros(1, K, 32, 32),
                           torch.zeros(1, K, 16, 16), INPUT_SIZE)


def test_estimator_rejects_a_runner_with_the_wrong_batch(
        sample_model, real_crops):
    crops = real_crops['mpii'][:2]
    one_map = BackendPoseEstimator(sample_model,
                                   lambda x: torch.zeros(1, K, 32, 32))
    flip_indices = sample_model.dataset_meta['flip_indices']
    assert sample_model.test_cfg['flip_test']  # runner sees 2 x 2 crops
    with pytest.raises(ValueError, match='for 4 crops'):
        one_map.heatmaps(crops, flip_indices)


@pytest.mark.slow
def test_int8_calibrates_on_the_data_root_it_is_given(sample_model, data_dir,
                                                      real_crops):
    runner = build_heatmap_runner(
        sample_model, 'int8', threads=1, calib_data=str(data_dir))
    crops = real_crops['coco_gt']
    ref = reference_heatmaps(sample_model, crops)
    assert relative_error(ref, runner(crops)) <= RANDOM_MAX_REL_ERR['int8']


def test_onnx_export_without_work_dir_leaves_no_files(sample_model,
                                                      real_crops):
    runner = build_heatmap_runner(sample_model, 'onnx', threads=1)
    assert not os.path.exists(runner.onnx_file)  # session keeps the model
    crops = real_crops['mpii'][:2]
    ref = reference_heatmaps(sample_model, crops)
    assert (runner(crops) - ref).abs().max() <= exact_tol(ref)
