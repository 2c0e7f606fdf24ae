"""StackedHeatmapHead: intermediate supervision, last-stack prediction."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData
from mmpose.models.heads import CPMHead
from mmpose.models.losses import KeypointMSELoss
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mpii_samples import MPII_META

from hourglass_plugin.models import StackedHeatmapHead

K = 16  # MPII joints
CODEC = dict(
    type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
FLIP = MPII_META['flip_indices']


def samples(batch: int, seed: int = 0):
    """Data samples with random targets (K, 16, 16) and 0/1 weights."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batch):
        sample = PoseDataSample(metainfo=dict(flip_indices=FLIP))
        sample.gt_fields = PixelData(
            heatmaps=torch.rand(K, 16, 16, generator=gen))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=(torch.rand(1, K, generator=gen) > 0.3).float())
        out.append(sample)
    return out


def test_loss_is_sum_over_stacks():
    torch.manual_seed(0)
    head = StackedHeatmapHead(in_channels=8, out_channels=K, num_stages=3)
    feats = [torch.randn(2, 8, 16, 16) for _ in range(3)]
    batch = samples(2)
    losses = head.loss(feats, batch)

    heatmaps = head.forward(feats)
    gt = torch.stack([s.gt_fields.heatmaps for s in batch])
    weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in batch])
    mse = KeypointMSELoss(use_target_weight=True)
    per_stack = [mse(h, gt, weights) for h in heatmaps]
    assert len(set(v.item() for v in per_stack)) == 3  # stacks differ
    assert torch.allclose(losses['loss_kpt'], sum(per_stack))
    for s in range(3):
        assert torch.allclose(losses[f'kpt_stack{s}'], per_stack[s])
        assert not losses[f'kpt_stack{s}'].requires_grad
    assert losses['loss_kpt'].requires_grad
    assert set(losses) == {
        'loss_kpt', 'kpt_stack0', 'kpt_stack1', 'kpt_stack2', 'acc_pose'
    }


def test_total_loss_counts_each_stack_once_in_a_pose_estimator():
    """mmengine's parse_losses sums every key containing 'loss'."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='TopdownPoseEstimator',
            backbone=dict(
                type='NewellHourglassNet',
                num_keypoints=K,
                num_stacks=3,
                feat_channels=32,
                depth=2),
            head=dict(
                type='StackedHeatmapHead',
                in_channels=K,
                out_channels=K,
                num_stages=3,
                final_layer=None)))
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2))
    total, log_vars = model.parse_losses(losses)
    stacks = [losses[f'kpt_stack{s}'] for s in range(3)]
    assert torch.allclose(total, sum(stacks))
    assert torch.allclose(log_vars['loss'], log_vars['loss_kpt'])
    total.backward()  # the total carries the gradient of every stack
    assert list(model.head.parameters()) == []  # final_layer=None
    no_grad = [
        n for n, p in model.backbone.named_parameters()
        if p.grad is None or not p.grad.abs().sum()
    ]
    assert no_grad == []


def heatmaps_with_peak(x: int, y: int, seed: int) -> torch.Tensor:
    """(1, K, 16, 16) noise below 0.1 with a peak of 1 at (x, y) in every
    channel, right neighbour 0.5 and left 0.2 (refines x by +0.25)."""
    gen = torch.Generator().manual_seed(seed)
    hm = torch.rand(1, K, 16, 16, generator=gen) * 0.1
    hm[..., y, x] = 1.0
    hm[..., y, x + 1] = 0.5
    hm[..., y, x - 1] = 0.2
    hm[..., y - 1, x] = hm[..., y + 1, x] = 0.3
    return hm


def identity_head(num_stages: int) -> StackedHeatmapHead:
    return StackedHeatmapHead(
        in_channels=K,
        out_channels=K,
        num_stages=num_stages,
        final_layer=None,
        decoder=CODEC)


def test_predict_decodes_last_stack_with_quarter_pixel_refinement():
    head = identity_head(2)
    feats = (heatmaps_with_peak(3, 4,
                                seed=0), heatmaps_with_peak(5, 7, seed=1))
    preds, fields = head.predict(
        feats, samples(1), test_cfg=dict(output_heatmaps=True))
    assert torch.equal(fields[0].heatmaps, feats[1][0])
    # heatmap (5.25, 7) * 4 (64 / 16) -> input pixels, 0-based
    np.testing.assert_allclose(preds[0].keypoints[0], [[21., 28.]] * K)
    np.testing.assert_allclose(preds[0].keypoint_scores[0], 1.0)


def test_flip_test_averages_flipped_back_shifted_heatmaps():
    head = identity_head(2)
    torch.manual_seed(0)
    orig = [torch.rand(1, K, 16, 16) for _ in range(2)]
    flipped = [torch.rand(1, K, 16, 16) for _ in range(2)]
    _, fields = head.predict([orig, flipped],
                             samples(1),
                             test_cfg=dict(
                                 flip_test=True,
                                 shift_heatmap=True,
                                 output_heatmaps=True))
    back = flipped[1][0].flip(-1)[FLIP]  # mirror, swap left/right joints
    back[:, :, 1:] = back[:, :, :-1].clone()  # 1-px shift to the right
    expected = (orig[1][0] + back) / 2
    assert torch.allclose(fields[0].heatmaps, expected)


def test_head_layers_and_keys_are_cpmheads():
    ours = StackedHeatmapHead(in_channels=256, out_channels=K, num_stages=2)
    theirs = CPMHead(
        in_channels=256,
        out_channels=K,
        num_stages=2,
        deconv_out_channels=None)
    assert ({
        k: v.shape
        for k, v in ours.state_dict().items()
    } == {
        k: v.shape
        for k, v in theirs.state_dict().items()
    })


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match='in_channels .* must equal'):
        StackedHeatmapHead(in_channels=8, out_channels=K, final_layer=None)
    head = StackedHeatmapHead(in_channels=8, out_channels=K, num_stages=2)
    with pytest.raises(ValueError, match='built for 2 stacks'):
        head.forward([torch.zeros(1, 8, 16, 16)])
    with pytest.raises(ValueError, match='stack 1 has shape'):
        head.forward([torch.zeros(1, 8, 16, 16), torch.zeros(1, 4, 16, 16)])
    with pytest.raises(ValueError, match='heatmap_size'):
        head.loss([torch.zeros(2, 8, 32, 32)] * 2, samples(2))
