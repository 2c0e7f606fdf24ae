"""How much a fast path changes the decoded keypoints.

A reduced-precision backend (int8, bf16) is judged by what the user sees:
keypoints decoded from its heatmaps with the model's own codec (argmax +
quarter-pixel refinement for ``MSRAHeatmap``, DARK when configured), compared
with the exact fp32 path on the same real crops. The figure reported is the
share of joints whose decoded positions are within ``tol`` heatmap pixels
(Euclidean; 1 heatmap pixel = 4 input pixels for HG-52 at 256x256).
"""
from typing import Dict

import numpy as np
from torch import Tensor, nn


def decode_keypoints(pose_model: nn.Module, heatmaps: Tensor) -> np.ndarray:
    """Keypoints decoded by the model's head codec, in input-space pixels.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (``head.decode``).
        heatmaps (Tensor): (N, K, h, w) last-stack heatmaps.

    Returns:
        np.ndarray: (N, K, 2) float keypoints (x, y), 0-based pixels of the
        network input crop (not the original image).
    """
    preds = pose_model.head.decode(heatmaps.detach().float().cpu())
    return np.stack([p.keypoints[0, :, :2] for p in preds])


def keypoint_agreement(pose_model: nn.Module,
                       ref_heatmaps: Tensor,
                       test_heatmaps: Tensor,
                       input_size: tuple,
                       tol: float = 1.0) -> Dict[str, float]:
    """Compare a backend's decoded keypoints with the reference (fp32) path.

    Args:
        pose_model (nn.Module): Estimator whose codec decodes both.
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
    ref = decode_keypoints(pose_model, ref_heatmaps) / stride
    test = decode_keypoints(pose_model, test_heatmaps) / stride
    dist = np.linalg.norm(ref - test, axis=-1)
    diff = (ref_heatmaps.float().cpu() - test_heatmaps.float().cpu()).abs()
    return dict(
        share=float((dist <= tol).mean()),
        mean_px=float(dist.mean()),
        max_px=float(dist.max()),
        max_abs_diff=float(diff.max()),
        joints=int(dist.size))
