"""int8 on TRAINED networks keeps the joints (issue 12's thresholds): >= 99%
of decoded joints within 1 heatmap pixel of fp32 on the real crops of data/
(MPII people and COCO people, with mirrors) and PCKh@0.5 on data/ changed by
at most 1 point. Random weights cannot show this (flat heatmaps; see
test_backends.py), so each network is trained here on data/ through
tools/train.py: the main job's Newell 2-stack (once for both its tests, 1.2
min) and an HG-52 at 128x128 (hg52_sample_128.py, 60 iterations, ~13 min
on 2 loaded cores). Plain int8 keeps the joints of HG-52 but not of Newell
et al.'s network; there, the convolutions int8 rounds at the highest cost
(ranked on the calibration crops, never on the crops compared here) stay
fp32. Speed is measured by tools/benchmark.py, not asserted.
"""
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

from hourglass_plugin.benchmark.measure import evaluate_pckh
from hourglass_plugin.deploy import (BackendPoseEstimator, OrtHeatmapRunner,
                                     build_heatmap_runner, crop_sources,
                                     dataset_crops, input_noise_floor,
                                     keypoint_agreement, model_input_size,
                                     onnx_paths, pooled_share, prepare_onnx,
                                     reference_heatmaps)
from hourglass_plugin.deploy.model_zoo import load_pose_model
from hourglass_plugin.deploy.quantization import (int8_conv_names,
                                                  int8_mac_share)

HERE = Path(__file__).resolve().parent
NEWELL_CONFIG = HERE.parents[1] / 'configs' / 'sample' / (
    'newell_hourglass2_sample_128.py')
MIN_SHARE = 0.99
MAX_PCKH_CHANGE = 1.0
# convolutions of the main job's network (of 101 int8 ones) kept fp32, the
# most sensitive first. Chosen from tools/int8_sensitivity.py on two trainings
# (seeds 0 / 1), all joints within 1 px of fp32 at K = 60, 70, 75, 80, 85, 90:
# 98.5 / 99.1, 98.9 / 99.4, 99.1 / 99.4, 99.4 / 99.4, 99.3 / 99.6,
# 99.8 / 99.4% (K = 0: 84.7 / 83.5%). At K = 90 the 11 int8 convolutions
# hold 3-4% of the MACs: the stem (80% of them) is the most sensitive part.
NEWELL_KEEP_FP32 = 90


def train(repo_root: Path, config: Path, work_dir: Path) -> str:
    """Train ``config`` with tools/train.py; return its last checkpoint."""
    subprocess.run([
        sys.executable,
        str(repo_root / 'tools' / 'train.py'),
        str(config), '--work-dir',
        str(work_dir)
    ],
                   cwd=repo_root,
                   check=True,
                   stdout=subprocess.DEVNULL)
    return (work_dir / 'last_checkpoint').read_text().strip()


def against_fp32(model: torch.nn.Module, config: Path, runner: Callable,
                 data_dir: Path) -> dict:
    """Agreement and PCKh change of a backend's ``runner`` on data/, and the
    fp32 network's own agreement under +-1 grey level of input noise (the
    floor any backend is read against), per crop source."""
    sources = crop_sources(data_dir)
    agreements, by_source = [], {}
    for name in ('mpii', 'coco_gt'):
        crops = dataset_crops(model, sources[name], flip=True)
        agreements.append(
            keypoint_agreement(model, reference_heatmaps(model, crops),
                               torch.cat([runner(c) for c in crops.split(8)]),
                               model_input_size(model)))
        by_source[name] = dict(
            share=agreements[-1]['share'],
            floor=input_noise_floor(model, crops)['share'])
    fp32 = evaluate_pckh(model, str(config), str(data_dir), 5)
    backend = evaluate_pckh(
        BackendPoseEstimator(model, runner), str(config), str(data_dir), 5)
    return dict(
        share=pooled_share(agreements),
        pckh_change=backend['PCKh'] - fp32['PCKh'],
        by_source=by_source)


def assert_keeps_the_joints(result: dict) -> None:
    assert result['share'] >= MIN_SHARE, result
    assert abs(result['pckh_change']) <= MAX_PCKH_CHANGE, result


@pytest.fixture(scope='module')
def newell(repo_root, tmp_path_factory) -> torch.nn.Module:
    """The main job's Newell 2-stack, trained on data/ (eval mode, CPU)."""
    torch.set_num_threads(2)
    checkpoint = train(repo_root, NEWELL_CONFIG,
                       tmp_path_factory.mktemp('newell'))
    return load_pose_model(str(NEWELL_CONFIG), checkpoint)


@pytest.mark.timeout(1800)  # training HG-52 took 13 min on 2 loaded cores
def test_int8_keeps_the_joints_of_a_trained_hg52(repo_root, data_dir,
                                                 tmp_path):
    torch.set_num_threads(2)
    config = HERE / 'hg52_sample_128.py'
    model = load_pose_model(str(config), train(repo_root, config, tmp_path))
    runner = build_heatmap_runner(
        model, 'int8', threads=2, calib_data=str(data_dir))
    assert_keeps_the_joints(against_fp32(model, config, runner, data_dir))


@pytest.mark.timeout(900)
@pytest.mark.xfail(
    strict=True,
    reason='measured 84.7% of joints within 1 px (MPII 94.4%, COCO 80.7%), '
    'dPCKh +1.5. The fp32 network itself keeps only 97.9% of its COCO '
    'joints under +-1 grey level of input noise (HG-52: 100%), and 8-bit '
    'weights alone change its heatmaps by 4% (relative L2): the rounding of '
    '~100 pre-activation residual layers adds up (see '
    'deploy/quantization.py); test_mixed_precision_int8_... keeps them')
def test_int8_keeps_the_joints_of_the_trained_main_job_newell(
        newell, data_dir):
    runner = build_heatmap_runner(
        newell, 'int8', threads=2, calib_data=str(data_dir))
    assert_keeps_the_joints(
        against_fp32(newell, NEWELL_CONFIG, runner, data_dir))


@pytest.mark.timeout(1200)  # ranking: one calibration per conv, ~3 min
def test_mixed_precision_int8_keeps_the_joints_of_the_main_job_newell(
        newell, data_dir, tmp_path):
    mixed = prepare_onnx(
        newell,
        'int8',
        str(tmp_path),
        calib_data=data_dir,
        int8_keep_fp32=NEWELL_KEEP_FP32)
    int8_share = int8_mac_share(
        onnx_paths(str(tmp_path), 'model')['onnx'], mixed)
    result = against_fp32(newell, NEWELL_CONFIG,
                          OrtHeatmapRunner(mixed, threads=2), data_dir)
    print(f'{len(int8_conv_names(mixed))} convs in int8 '
          f'({int8_share:.0%} of the MACs): {result}')
    assert 0 < int8_share < 1
    assert_keeps_the_joints(result)
