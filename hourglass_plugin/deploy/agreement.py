"""How much a fast path changes the decoded keypoints: what the user sees,
keypoints decoded with the model's own codec (argmax + quarter-pixel
refinement for ``MSRAHeatmap``), against the exact fp32 path on the same
real crops, as the share of joints within ``tol`` heatmap pixels."""
from typing import Dict

import numpy as np
from torch import Tensor, nn


def keypoint_agreement(pose_model: nn.Module,
                       ref_heatmaps: Tensor,
                       test_heatmaps: Tensor,
                       input_size: tuple,
                       tol: float = 1.0) -> Dict[str, float]:
    """Compare a backend's decoded keypoints with the reference (fp32) path.

    Args:
        pose_model (nn.Module): Estimator whose codec (``head.decode``)
            decodes both to input-space keypoints.
        ref_heatmaps (Tensor): (N, K, h, w) reference heatmaps.
        test_heatmaps (Tensor): (N, K, h, w) heatmaps of the backend under
            test, same crops in the same order.
        input_size (tuple): ``(W, H)`` network input size in pixels (sets the
            input-pixels-per-heatmap-pixel ratio).
        tol (float): Distance threshold in heatmap pixels.

    Returns:
        dict: ``share`` (joints within ``tol`` heatmap px, in [0, 1]),
        ``mean_px`` / ``max_px`` (distances in heatmap px), ``max_abs_diff``
        (largest heatmap value difference), ``joints`` (N*K).

    Raises:
        ValueError: If the two heatmap tensors differ in shape or are empty.
    """
    if ref_heatmaps.shape != test_heatmaps.shape or ref_heatmaps.numel() == 0:
        raise ValueError('heatmaps to compare must have the same non-empty '
                         f'shape, got {tuple(ref_heatmaps.shape)} and '
                         f'{tuple(test_heatmaps.shape)}')
    stride = np.array([
        input_size[0] / ref_heatmaps.shape[-1],
        input_size[1] / ref_heatmaps.shape[-2]
    ])
    ref, test = (
        np.stack([
            p.keypoints[0, :, :2]
            for p in pose_model.head.decode(h.detach().float().cpu())
        ]) / stride for h in (ref_heatmaps, test_heatmaps))
    dist = np.linalg.norm(ref - test, axis=-1)
    diff = (ref_heatmaps.float().cpu() - test_heatmaps.float().cpu()).abs()
    return dict(
        share=float((dist <= tol).mean()),
        mean_px=float(dist.mean()),
        max_px=float(dist.max()),
        max_abs_diff=float(diff.max()),
        joints=int(dist.size))
