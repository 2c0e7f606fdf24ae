"""An mmpose HG-52 checkpoint, converted, gives the same heatmaps in our model.

mmpose's own HG-52 (its model-zoo config, random weights) is saved, converted
with tools/convert_mmpose_checkpoint.py and loaded into ours with
``mmpose.apis.init_model``; both then predict on a real MPII crop.
"""
import sys
from pathlib import Path

import mmpose
import pytest
import torch
from mmpose.apis import init_model

from mpii_samples import mpii_batch

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / 'tools'))
import convert_mmpose_checkpoint  # noqa: E402

MMPOSE_CONFIGS = (Path(mmpose.__file__).parent / '.mim' / 'configs' /
                  'body_2d_keypoint' / 'topdown_heatmap' / 'mpii')
CASES = {
    256: ('td-hm_hourglass52_8xb64-210e_mpii-256x256.py',
          'hourglass52_mpii_256.py'),
    384: ('td-hm_hourglass52_8xb32-210e_mpii-384x384.py',
          'hourglass52_mpii_384.py'),
}


def randomize_norm_statistics(model: torch.nn.Module) -> None:
    """Give every norm layer non-trivial running statistics and affine
    weights, so that equal outputs require equal, correctly placed norms."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)


def predict(model, batch):
    """Flip-test prediction of one sample, and the plain prediction of the
    same run (the last stack's first output is the unflipped image's).

    Returns:
        tuple: plain heatmaps (K, h, w), flip-test heatmaps (K, h, w) and
        flip-test keypoints (K, 2) in image pixels.
    """
    model.test_cfg.update(flip_test=True, output_heatmaps=True)
    head_outputs = []  # the heads call forward() directly: hook the conv
    hook = model.head.multi_final_layers[-1].register_forward_hook(
        lambda module, args, out: head_outputs.append(out[0]))
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    hook.remove()
    assert len(head_outputs) == 2  # original, flipped image
    return (head_outputs[0], sample.pred_fields.heatmaps,
            sample.pred_instances.keypoints[0])


@pytest.mark.parametrize('size', [256, 384])
def test_converted_mmpose_checkpoint_gives_same_heatmaps(size, tmp_path,
                                                         capsys):
    mmpose_cfg, our_cfg = CASES[size]
    torch.manual_seed(0)
    reference = init_model(str(MMPOSE_CONFIGS / mmpose_cfg), device='cpu')
    randomize_norm_statistics(reference)
    src = tmp_path / 'mmpose_hg52.pth'
    torch.save(dict(state_dict=reference.state_dict(), meta=dict()), src)

    dst = tmp_path / 'ours.pth'
    assert convert_mmpose_checkpoint.main(
        [str(src), str(dst), '--config',
         str(REPO_ROOT / 'configs' / our_cfg)]) == 0
    report = capsys.readouterr().out
    assert 'dropped 12 backbone.inters.* tensors (1,180,672 parameters)' in \
        report

    ours = init_model(str(REPO_ROOT / 'configs' / our_cfg), str(dst),
                      device='cpu')
    # every tensor of ours came from the checkpoint: a strict load succeeds
    ours.load_state_dict(torch.load(dst)['state_dict'], strict=True)
    assert type(ours.backbone).__name__ == 'CornerHourglassNet'
    assert type(ours.head).__name__ == 'StackedHeatmapHead'

    batch = mpii_batch([0], (size, size))
    ref_plain, ref_flip, ref_keypoints = predict(reference, batch)
    our_plain, our_flip, our_keypoints = predict(ours, batch)
    assert our_flip.shape == (16, size // 4, size // 4)
    # the comparison is meaningful only if the heatmaps vary
    assert ref_plain.std() > 1e-3
    assert (our_plain - ref_plain).abs().max() <= 1e-5
    assert (our_flip - ref_flip).abs().max() <= 1e-5
    assert abs(our_keypoints - ref_keypoints).max() <= 1e-3
