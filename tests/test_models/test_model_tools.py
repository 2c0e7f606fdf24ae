"""tools/convert_mmpose_checkpoint.py and tools/model_complexity.py."""
import argparse
import subprocess
import sys
from pathlib import Path

import mmpose
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / 'tools'))
import convert_mmpose_checkpoint as convert  # noqa: E402
import model_complexity  # noqa: E402

HG52_CONFIG = str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py')
MMPOSE_HG52_CONFIG = str(
    Path(mmpose.__file__).parent / '.mim' / 'configs' / 'body_2d_keypoint' /
    'topdown_heatmap' / 'mpii' /
    'td-hm_hourglass52_8xb64-210e_mpii-256x256.py')


@pytest.fixture(scope='module')
def hg52_shapes():
    """Keys and shapes of our HG-52 (built on the meta device)."""
    return convert.expected_shapes(HG52_CONFIG)


def mmpose_like_state_dict(shapes):
    """Zero tensors for our keys plus mmpose's unused block, 0.x head names."""
    sd = {
        k.replace('head.', 'keypoint_head.', 1) if k.startswith('head.')
        else k: torch.zeros(v)
        for k, v in shapes.items()
    }
    sd['backbone.inters.0.conv1.weight'] = torch.zeros(256, 256, 3, 3)
    return sd


def test_converts_renames_and_drops(hg52_shapes):
    converted, notes = convert.convert_state_dict(
        mmpose_like_state_dict(hg52_shapes), hg52_shapes)
    assert set(converted) == set(hg52_shapes)
    assert 'renamed 2 keypoint_head.* keys to head.*' in notes
    assert any('dropped 1 backbone.inters.* tensors (589,824 parameters)' in n
               for n in notes)


def test_wrong_shape_missing_and_unexpected_keys_are_listed(hg52_shapes):
    sd = mmpose_like_state_dict(hg52_shapes)
    sd['keypoint_head.multi_final_layers.0.weight'] = torch.zeros(17, 256, 1,
                                                                  1)
    del sd['backbone.stem.0.conv.weight']
    sd['backbone.extra.weight'] = torch.zeros(1)
    with pytest.raises(convert.CheckpointMismatchError) as err:
        convert.convert_state_dict(sd, hg52_shapes)
    message = str(err.value)
    assert '(3 problems)' in message
    assert ('shape mismatch: head.multi_final_layers.0.weight: checkpoint '
            '(17, 256, 1, 1), model (16, 256, 1, 1)') in message
    assert 'missing in checkpoint: backbone.stem.0.conv.weight' in message
    assert 'unexpected in checkpoint: backbone.extra.weight' in message


def test_command_line_rejects_wrong_shape_checkpoint(tmp_path):
    src = tmp_path / 'bad.pth'
    torch.save(
        dict(state_dict={
            'backbone.out_convs.0.conv.weight': torch.zeros(128, 256, 3, 3)
        }), src)
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' /
                             'convert_mmpose_checkpoint.py'),
         str(src), str(tmp_path / 'out.pth')],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode != 0
    assert 'CheckpointMismatchError' in proc.stderr
    assert ('shape mismatch: backbone.out_convs.0.conv.weight: checkpoint '
            '(128, 256, 3, 3), model (256, 256, 3, 3)') in proc.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_weights_only_refusal_is_explained(tmp_path):
    src = tmp_path / 'pickled.pth'
    torch.save(dict(state_dict={}, meta=dict(args=argparse.Namespace())), src)
    with pytest.raises(ValueError, match=r'\(argparse.Namespace\)\. If you '
                       'trust the file, re-run with --trust-pickle'):
        convert.load_source_state_dict(str(src))
    assert convert.load_source_state_dict(str(src), trust_pickle=True) == {}
    with pytest.raises(FileNotFoundError):
        convert.load_source_state_dict(str(tmp_path / 'missing.pth'))


def test_complexity_of_hg52_matches_mmpose_minus_unused_block():
    ours = model_complexity.complexity(HG52_CONFIG, shape=(128, 128))
    theirs = model_complexity.complexity(MMPOSE_HG52_CONFIG, shape=(128, 128))
    assert ours['params'] == theirs['params'] - 1_180_672 == 93_666_960
    assert ours['params'] == ours['backbone_params'] + ours['head_params']
    # the unused block does no work, so the computation is identical
    assert ours['flops'] == theirs['flops'] > 0
    table = model_complexity.format_table(HG52_CONFIG, ours)
    assert '| input (H x W, pixels) | 128 x 128' in table
    assert '93,666,960' in table
