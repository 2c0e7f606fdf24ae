"""The parameter/MAC counter (``hourglass_plugin.benchmark.model_complexity``,
shared by tools/model_complexity.py and tools/benchmark.py): a hand-counted
tiny network, and mmpose's published figures for HG-52."""
from pathlib import Path
from types import SimpleNamespace

import pytest
from torch import nn

from hourglass_plugin.benchmark import model_complexity
from hourglass_plugin.deploy.model_zoo import load_pose_model
from tests.conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
HG52_CONFIG = str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py')
MMPOSE_HG52 = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'


class TinyEstimator(nn.Module):
    """3x3 conv 3->4 (backbone), 1x1 conv 4->2 (head), codec 12x8 (W x H)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 2, 1)
        self.head.decoder = SimpleNamespace(input_size=(12, 8))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return [self.head(self.backbone(inputs))]  # one "stack"


def test_counts_of_a_hand_counted_network():
    counted = model_complexity(TinyEstimator())
    # MACs = H * W * C_out * C_in * k * k per conv (bias not counted)
    assert counted['macs'] == 8 * 12 * (4 * 3 * 9 + 2 * 4 * 1) == 11_136
    assert counted['backbone_params'] == 4 * 3 * 9 + 4 == 112
    assert counted['head_params'] == 2 * 4 + 2 == 10
    assert counted['params'] == 122
    assert counted['input_size'] == (12, 8)
    # another input size scales the MACs, not the parameters
    other = model_complexity(TinyEstimator(), input_size=(6, 4))
    assert other['macs'] == 11_136 // 4 and other['params'] == 122


@pytest.mark.slow
def test_hg52_matches_mmpose_published_figures(capsys):
    # mmpose's model zoo: td-hm_hourglass52 at 256x256, 94.85 M params,
    # 28.65 GFLOPs (multiply-adds)
    theirs = model_complexity(load_pose_model(MMPOSE_HG52))
    assert round(theirs['params'] / 1e6, 2) == 94.85
    assert round(theirs['macs'] / 1e9, 2) == 28.65
    # ours: the same network without mmpose's unused 1,180,672-parameter
    # block, hence the same work
    assert load_tool('model_complexity').main([HG52_CONFIG]) == 0
    params = theirs['params'] - 1_180_672
    assert f'| 256 x 256 | {params:,} |' in capsys.readouterr().out
    assert params == 93_666_960
