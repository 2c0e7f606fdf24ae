"""ForegroundWeightedMSELoss: foreground pixels of the target weighted."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpose.codecs import MSRAHeatmap
from mmpose.models.losses import KeypointMSELoss
from mmpose.registry import MODELS

from hourglass_plugin.models import ForegroundWeightedMSELoss


def test_numeric_value_by_hand():
    target = torch.zeros(1, 2, 4, 4)
    target[0, 0, 1, 1] = 1.0
    target[0, 0, 1, 2] = 0.5
    target[0, 1, 3, 3] = 0.2
    output = torch.full_like(target, 0.1)
    loss = ForegroundWeightedMSELoss(foreground_weight=10.0)(output, target)
    # 3 foreground pixels (weight 10), 29 background (0.1^2 each), mean of 32
    expected = (10 * (0.9**2 + 0.4**2 + 0.1**2) + 29 * 0.01) / 32
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_keypoint_weights_threshold_and_loss_weight():
    target = torch.zeros(1, 2, 4, 4)
    target[0, :, 0, 0] = 0.6
    target[0, :, 0, 1] = 0.05
    output = torch.zeros_like(target)
    loss = ForegroundWeightedMSELoss(
        foreground_weight=4.0, threshold=0.1, loss_weight=0.5)
    # channel 1 masked out; at threshold 0.1 only 0.6 is foreground
    value = loss(output, target, torch.tensor([[1.0, 0.0]]))
    expected = 0.5 * (4 * 0.36 + 0.05**2) / 32
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_weight_one_is_keypoint_mse_and_gradients_favour_foreground():
    torch.manual_seed(0)
    codec = MSRAHeatmap(input_size=(256, 256), heatmap_size=(64, 64), sigma=1)
    encoded = codec.encode(torch.tensor([[[100., 120.]]]).numpy())
    target = torch.from_numpy(encoded['heatmaps'])[None]  # (1, 1, 64, 64)
    assert int((target > 0).sum()) == 49  # the tutorial's 7x7 patch
    output = torch.rand_like(target) * 0.1
    plain = KeypointMSELoss()(output, target)
    assert torch.allclose(
        ForegroundWeightedMSELoss(foreground_weight=1.0)(output, target),
        plain)

    output.requires_grad_(True)
    ForegroundWeightedMSELoss()(output, target).backward()
    grad_ratio = output.grad[target > 0] / (2 * (output - target)[target > 0] /
                                            target.numel())
    assert torch.allclose(grad_ratio, torch.full_like(grad_ratio, 82.0))


def test_registered_and_validated():
    init_default_scope('mmpose')
    loss = MODELS.build(
        dict(type='ForegroundWeightedMSELoss', use_target_weight=True))
    assert isinstance(loss, ForegroundWeightedMSELoss)
    with pytest.raises(ValueError, match='foreground_weight'):
        ForegroundWeightedMSELoss(foreground_weight=0)
