"""Config lookup (ours by path, mmpose's by model-zoo name), model loading
from the repository root, and ``tools/export_onnx.py`` end to end."""
import importlib.util
from pathlib import Path

import pytest
import torch

from hourglass_plugin.deploy.model_zoo import (is_plugin_config,
                                               load_pose_model,
                                               mmpose_metainfo, resolve_config)

HG52_NAME = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'


def load_tool(repo_root: Path, name: str):
    """Import ``tools/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        name, repo_root / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mmpose_config_names_resolve_inside_installed_mmpose(sample_config):
    path = Path(resolve_config(HG52_NAME))
    assert path.name == f'{HG52_NAME}.py' and path.is_file()
    assert '.mim' in path.parts
    assert resolve_config(f'{HG52_NAME}.py') == str(path)
    assert resolve_config(str(sample_config)) == str(sample_config)
    with pytest.raises(FileNotFoundError, match='no-such-model'):
        resolve_config('no-such-model')


def test_ours_is_told_from_mmpose_by_custom_imports(sample_config,
                                                    tiny_mmpose_config):
    assert is_plugin_config(str(sample_config))
    assert not is_plugin_config(resolve_config(HG52_NAME))
    assert not is_plugin_config(str(tiny_mmpose_config))


def test_mmpose_mpii_metainfo_does_not_depend_on_the_cwd(
        monkeypatch, repo_root, tiny_mmpose_config):
    # the repository has its own configs/_base_/datasets/mpii.py (no
    # dataset_info), which mmpose would read from the repository root
    monkeypatch.chdir(repo_root)
    assert (repo_root / 'configs/_base_/datasets/mpii.py').is_file()
    metainfo = mmpose_metainfo('MpiiDataset')
    assert Path(metainfo['from_file']).is_absolute()
    model = load_pose_model(str(tiny_mmpose_config))
    assert model.dataset_meta['dataset_name'] == 'mpii'
    assert model.dataset_meta['num_keypoints'] == 16


def test_export_tool_verifies_against_eager(tmp_path, capsys, repo_root,
                                            sample_config):
    torch.manual_seed(0)
    model = load_pose_model(str(sample_config))
    ckpt = tmp_path / 'sample.pth'
    torch.save(model.state_dict(), ckpt)
    out = tmp_path / 'sample.onnx'
    report = load_tool(repo_root, 'export_onnx').main([
        str(sample_config),
        str(ckpt), '--out',
        str(out), '--threads', '2', '--int8',
        str(tmp_path / 'sample_int8.onnx')
    ])
    printed = capsys.readouterr().out
    assert out.is_file() and (tmp_path / 'sample_int8.onnx').is_file()
    assert 'max abs heatmap diff' in printed
    # 1e-4 of the peak (random-init heatmaps reach ~1e3)
    tol = 1e-4 * max(1.0, report['heatmap_peak'])
    assert report['max_abs_diff_b1'] <= tol
    assert report['max_abs_diff_b3'] <= tol
    assert 0.0 <= report['int8_agreement'] <= 1.0
