"""How much a fast path changes the decoded keypoints.

A reduced-precision backend (int8, bf16) is judged by what the user sees:
keypoints decoded from its heatmaps with the model's own codec (argmax +
quarter-pixel refinement for ``MSRAHeatmap``, DARK when configured), compared
with the exact fp32 path on the same real crops. The figure reported is the
share of joints whose decoded positions are within ``tol`` heatmap pixels
(Euclidean; 1 heatmap pixel = 4 input pixels for HG-52 at 256x256).

No backend can be asked to agree with fp32 more closely than the fp32
network agrees with itself when its input image changes by the rounding of
its own 8-bit pixels: :func:`input_noise_floor` measures that (uniform noise
of +-1 grey level on every pixel), the floor to read any agreement against.
A network whose heatmaps are flat on a crop (a person unlike those it was
trained on) moves its argmax under that noise alone.
"""
from typing import Dict, Iterable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from .heatmap_net import model_input_size, reference_heatmaps


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


def pooled_share(agreements: Iterable[Dict[str, float]]) -> float:
    """The share of joints within tolerance over several
    :func:`keypoint_agreement` results (e.g. one per crop source), each
    weighted by its ``joints``.

    Raises:
        ValueError: If there are no joints at all.
    """
    agreements = list(agreements)
    joints = sum(a['joints'] for a in agreements)
    if not joints:
        raise ValueError('no joints to pool')
    return sum(a['share'] * a['joints'] for a in agreements) / joints


def perturb_crops(crops: Tensor,
                  std: Tensor,
                  grey_levels: float = 1.0,
                  generator: Optional[torch.Generator] = None) -> Tensor:
    """Normalised crops plus uniform noise of +-``grey_levels`` on the 0-255
    pixel scale (the rounding of an 8-bit image is +-0.5).

    Args:
        crops (Tensor): (N, 3, H, W) crops normalised as ``(x - mean) /
            std``.
        std (Tensor): The per-channel std of that normalisation (3 values,
            any shape that broadcasts to (1, 3, 1, 1) after ``view``).
        grey_levels (float): Noise amplitude in grey levels (>= 0).
        generator (torch.Generator, optional): For repeatable noise.

    Returns:
        Tensor: (N, 3, H, W) perturbed crops, same dtype.

    Raises:
        ValueError: A negative ``grey_levels`` or ``std`` without 3 values.
    """
    if grey_levels < 0:
        raise ValueError(f'grey_levels must be >= 0, got {grey_levels}')
    std = torch.as_tensor(std, dtype=crops.dtype).flatten()
    if std.numel() != 3:
        raise ValueError(f'std must hold 3 channel values, got {std.numel()}')
    noise = torch.rand(crops.shape, generator=generator, dtype=crops.dtype)
    return crops + (2 * noise - 1) * grey_levels / std.view(1, 3, 1, 1)


def input_noise_floor(pose_model: nn.Module,
                      crops: Tensor,
                      grey_levels: float = 1.0,
                      seed: int = 0) -> Dict[str, float]:
    """The fp32 network's agreement with itself under +-``grey_levels`` of
    input noise: the floor for any backend's :func:`keypoint_agreement`.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (eval mode) with a
            ``data_preprocessor`` holding ``std`` (0-255 scale).
        crops (Tensor): (N, 3, H, W) normalised real crops.
        grey_levels (float): Noise amplitude on the 0-255 scale.
        seed (int): Seed of the noise.

    Returns:
        dict: As :func:`keypoint_agreement` (fp32 on the crops vs fp32 on
        the perturbed crops).

    Raises:
        ValueError: See :func:`perturb_crops` and :func:`keypoint_agreement`.
    """
    generator = torch.Generator().manual_seed(seed)
    noisy = perturb_crops(crops, pose_model.data_preprocessor.std.cpu(),
                          grey_levels, generator)
    return keypoint_agreement(pose_model,
                              reference_heatmaps(pose_model, crops),
                              reference_heatmaps(pose_model, noisy),
                              model_input_size(pose_model))
