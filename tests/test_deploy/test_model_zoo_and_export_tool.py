"""Config lookup (ours by path, mmpose's by model-zoo name or alias through
mmengine's metafile lookup), model loading from the repository root, and
``tools/export_onnx.py`` end to end."""
from pathlib import Path

import pytest
import torch

from hourglass_plugin.deploy import (WEIGHTS_KEY, OrtHeatmapRunner,
                                     weights_fingerprint)
from hourglass_plugin.deploy.model_zoo import (is_plugin_config,
                                               load_pose_model, resolve_config)
from tests.conftest import load_tool

HG52_NAME = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'
MPII_CONFIGS = 'mmpose/.mim/configs/body_2d_keypoint/topdown_heatmap/mpii'


def test_mmpose_names_resolve_to_their_zoo_configs(sample_config):
    path = resolve_config(HG52_NAME)
    assert Path(path).is_file()
    assert path.endswith(f'{MPII_CONFIGS}/{HG52_NAME}.py')
    assert resolve_config(f'{HG52_NAME}.py') == path
    # an alias of the metafiles, as mmpose's inferencers accept them
    assert Path(resolve_config('body26')).name.startswith('rtmpose')
    assert resolve_config(str(sample_config)) == str(sample_config)
    with pytest.raises(FileNotFoundError) as err:
        resolve_config('no-such-model')
    assert str(err.value).startswith(
        "'no-such-model' is neither a config file nor a model in mmpose's "
        'model index')
    assert '\n' not in str(err.value)


def test_ours_is_told_from_mmpose_by_custom_imports(sample_config,
                                                    tiny_mmpose_config):
    assert is_plugin_config(str(sample_config))
    assert not is_plugin_config(resolve_config(HG52_NAME))
    assert not is_plugin_config(str(tiny_mmpose_config))


def test_mmpose_mpii_model_loads_from_the_repository_root(
        monkeypatch, repo_root, tiny_mmpose_config):
    # mmpose resolves MpiiDataset's metainfo file against the cwd first
    monkeypatch.chdir(repo_root)
    model = load_pose_model(str(tiny_mmpose_config))
    assert model.dataset_meta['dataset_name'] == 'mpii'
    assert model.dataset_meta['num_keypoints'] == 16
    assert len(model.dataset_meta['flip_indices']) == 16


def test_export_tool_verifies_against_eager(tmp_path, capsys, sample_config,
                                            data_dir):
    torch.manual_seed(0)
    model = load_pose_model(str(sample_config))
    ckpt = tmp_path / 'sample.pth'
    torch.save(model.state_dict(), ckpt)
    out = tmp_path / 'sample.onnx'
    report = load_tool('export_onnx').main([
        str(sample_config),
        str(ckpt), '--out',
        str(out), '--threads', '2', '--calib-data',
        str(data_dir), '--int8',
        str(tmp_path / 'sample_int8.onnx'), '--int8-mode', 'dynamic'
    ])  # static int8 calibration: test_backends
    printed = capsys.readouterr().out
    assert out.is_file() and (tmp_path / 'sample_int8.onnx').is_file()
    assert 'max abs heatmap diff' in printed
    assert f'{report["int8_agreement"]:.1%} of 48 decoded joints' in printed
    # 1e-4 of the peak (random-init heatmaps reach ~1e3)
    tol = 1e-4 * max(1.0, report['heatmap_peak'])
    assert report['max_abs_diff_b1'] <= tol
    assert report['max_abs_diff_b3'] <= tol
    # random weights (flat heatmaps): see test_backends.RANDOM_MIN_SHARE
    assert report['int8_agreement'] >= 0.8
    # the export records the checkpoint's weights, and so does int8
    for onnx_file in (out, tmp_path / 'sample_int8.onnx'):
        assert OrtHeatmapRunner(str(onnx_file)).metadata[WEIGHTS_KEY] == (
            weights_fingerprint(model))


def test_export_tool_needs_calibration_data(tmp_path, sample_config):
    with pytest.raises(FileNotFoundError, match='mpii_val.json'):
        load_tool('export_onnx').main([
            str(sample_config), 'none', '--out',
            str(tmp_path / 'a.onnx'), '--calib-data',
            str(tmp_path)
        ])
