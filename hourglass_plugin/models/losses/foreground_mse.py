"""Heatmap MSE with foreground pixels up-weighted.

Source: the TensorFlow stacked-hourglass tutorial cited in DESIGN.md: with
plain MSE a network can settle on all-zero heatmaps, because almost every
pixel of a target is background. It weights the pixels inside each
keypoint's Gaussian patch (7x7 at sigma 1 px) by 82, the background to
foreground pixel ratio of one 64x64 heatmap ((64*64 - 49) / 49 = 82.6).
mmpose has no such option (``KeypointMSELoss`` takes keypoint-wise or
explicit pixel-wise weights, which the heads never pass), so this subclass
of ``KeypointMSELoss`` builds the pixel weights from the target itself.
"""
from typing import Optional

from mmpose.models.losses import KeypointMSELoss
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ForegroundWeightedMSELoss(KeypointMSELoss):
    """``KeypointMSELoss`` with target pixels above a threshold weighted.

    Per pixel, ``w = foreground_weight if target > threshold else 1``; the
    loss is ``mean(w * m * (output - target)^2) * loss_weight`` over
    (B, K, H, W), where ``m`` is ``KeypointMSELoss``'s mask (keypoint
    weights, optional ``mask``, ``skip_empty_channel``). The mean runs over
    all pixels, so the value is larger than plain MSE by about
    ``(foreground_weight * n_fg + n_bg) / (n_fg + n_bg)`` (~2 with the
    defaults at sigma 1).

    Foreground = the Gaussian patch: ``MSRAHeatmap`` targets are exactly 0
    outside a (6 sigma + 1)^2 patch, so the default ``threshold=0`` selects
    it. Untruncated targets (``MSRAHeatmap(unbiased=True)``, DARK) are
    positive far out; use e.g. ``threshold=0.011`` (exp(-4.5), the value at
    3 sigma along an axis) for them.

    Args:
        foreground_weight (float): Weight of foreground pixels. Defaults to
            82.0 (the tutorial's, for 64x64 heatmaps at sigma 1).
        threshold (float): Target values strictly above it are foreground.
            Defaults to 0.0.
        use_target_weight (bool): As ``KeypointMSELoss``.
        skip_empty_channel (bool): As ``KeypointMSELoss``.
        loss_weight (float): As ``KeypointMSELoss``.

    Raises:
        ValueError: If ``foreground_weight`` is not positive.
    """

    def __init__(self,
                 foreground_weight: float = 82.0,
                 threshold: float = 0.0,
                 use_target_weight: bool = False,
                 skip_empty_channel: bool = False,
                 loss_weight: float = 1.0):
        if foreground_weight <= 0:
            raise ValueError('foreground_weight must be positive, got '
                             f'{foreground_weight}')
        super().__init__(use_target_weight, skip_empty_channel, loss_weight)
        self.foreground_weight = foreground_weight
        self.threshold = threshold

    def _get_mask(self, target: Tensor, target_weights: Optional[Tensor],
                  mask: Optional[Tensor]) -> Tensor:
        """``KeypointMSELoss``'s mask times the foreground weights.

        Args:
            target (Tensor): Target heatmaps, (B, K, H, W).
            target_weights (Tensor, optional): (B, K) or (B, K, H, W).
            mask (Tensor, optional): (B, K, H, W) or (B, 1, H, W).

        Returns:
            Tensor: Pixel weights broadcastable to (B, K, H, W).
        """
        pixel_weights = 1 + (self.foreground_weight - 1) * (
            target > self.threshold).to(target.dtype)  # (B, K, H, W)
        mask = pixel_weights if mask is None else mask * pixel_weights
        return super()._get_mask(target, target_weights, mask)
