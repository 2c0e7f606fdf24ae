"""tools/model_complexity.py (the converter: tests/test_tools/): the one
parameter/MAC counter, shared with tools/benchmark.py."""
from pathlib import Path

from hourglass_plugin.benchmark import model_complexity
from hourglass_plugin.deploy.model_zoo import load_pose_model
from tests.conftest import load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
HG52_CONFIG = str(REPO_ROOT / 'configs' / 'hourglass52_mpii_256.py')
MMPOSE_HG52 = 'td-hm_hourglass52_8xb64-210e_mpii-256x256'


def test_complexity_of_hg52_matches_mmpose_minus_unused_block():
    tool = load_tool('model_complexity')
    ours = tool.complexity(HG52_CONFIG, shape=(128, 128))
    theirs = tool.complexity(MMPOSE_HG52, shape=(128, 128))
    assert ours['params'] == theirs['params'] - 1_180_672 == 93_666_960
    assert ours['params'] == ours['backbone_params'] + ours['head_params']
    # the unused block does no work, so the computation is identical
    assert ours['flops'] == theirs['flops'] > 0
    table = tool.format_table(HG52_CONFIG, ours)
    assert '| input (H x W, pixels) | 128 x 128' in table
    assert '93,666,960' in table


def test_tool_and_benchmark_count_with_the_same_function():
    config = str(REPO_ROOT / 'configs' / 'sample' /
                 'newell_hourglass2_sample_128.py')
    counted = model_complexity(load_pose_model(config))
    by_tool = load_tool('model_complexity').complexity(config)
    assert counted['input_size'] == (128, 128)
    assert by_tool['shape'] == (128, 128)
    assert (by_tool['params'], by_tool['flops']) == (counted['params'],
                                                     counted['macs'])
    # 3x3 convolutions dominate: at least a few hundred MMACs at 128x128
    assert counted['macs'] > 1e8 and counted['params'] > 1e5
