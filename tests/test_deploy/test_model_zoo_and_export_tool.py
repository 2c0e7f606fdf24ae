"""Config lookup (ours by path, mmpose's by model-zoo name through mmpose's
model index), model loading from the repository root, and
``tools/export_onnx.py`` end to end."""
from pathlib import Path

import pytest
import torch

from hourglass_plugin.deploy.model_zoo import (is_plugin_config,
                                               load_pose_model, mmpose_mim_dir,
                                               mmpose_model_index,
                                               resolve_config)
from tests.conftest import load_tool

HG52_NAME = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'


def test_mmpose_names_resolve_through_its_model_index(sample_config):
    index = mmpose_model_index(str(mmpose_mim_dir()))
    assert len(index) > 100  # every metafile the index imports
    path = Path(resolve_config(HG52_NAME))
    assert str(path) == index[HG52_NAME] and path.is_file()
    assert path.name == f'{HG52_NAME}.py' and '.mim' in path.parts
    assert resolve_config(f'{HG52_NAME}.py') == str(path)
    assert resolve_config(str(sample_config)) == str(sample_config)
    with pytest.raises(FileNotFoundError, match='no-such-model.*index'):
        resolve_config('no-such-model')


def test_without_an_index_names_are_found_by_file(tmp_path, monkeypatch):
    config = tmp_path / 'configs' / 'x' / 'td-hm_tiny.py'
    config.parent.mkdir(parents=True)
    config.write_text('model = None\n')
    monkeypatch.setattr('hourglass_plugin.deploy.model_zoo.mmpose_mim_dir',
                        lambda: tmp_path)
    assert mmpose_model_index(str(tmp_path)) == {}
    assert resolve_config('td-hm_tiny') == str(config)


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
        str(tmp_path / 'sample_int8.onnx')
    ])
    printed = capsys.readouterr().out
    assert out.is_file() and (tmp_path / 'sample_int8.onnx').is_file()
    assert 'max abs heatmap diff' in printed
    # 1e-4 of the peak (random-init heatmaps reach ~1e3)
    tol = 1e-4 * max(1.0, report['heatmap_peak'])
    assert report['max_abs_diff_b1'] <= tol
    assert report['max_abs_diff_b3'] <= tol
    # random weights (flat heatmaps): see test_backends.RANDOM_MIN_SHARE
    assert report['int8_agreement'] >= 0.8


def test_export_tool_needs_calibration_data(tmp_path, sample_config):
    with pytest.raises(FileNotFoundError, match='mpii_val.json'):
        load_tool('export_onnx').main([
            str(sample_config), 'none', '--out',
            str(tmp_path / 'a.onnx'), '--calib-data',
            str(tmp_path)
        ])
