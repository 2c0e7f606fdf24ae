"""tools/model_complexity.py (the converter: tests/test_tools/)."""
import sys
from pathlib import Path

import mmpose

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / 'tools'))
import model_complexity  # noqa: E402

HG52_CONFIG = str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py')
MMPOSE_HG52_CONFIG = str(
    Path(mmpose.__file__).parent / '.mim' / 'configs' / 'body_2d_keypoint' /
    'topdown_heatmap' / 'mpii' /
    'td-hm_hourglass52_8xb64-210e_mpii-256x256.py')


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
