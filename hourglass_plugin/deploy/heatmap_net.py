"""The part of a top-down pose estimator that every inference backend runs.

A stacked hourglass predicts one heatmap set per stack (intermediate
supervision, Newell et al. 2016, Sec. 3.4); at test time only the last stack is
used (mmpose's ``CPMHead.predict`` takes ``self.forward(feats)[-1]``). Export,
quantisation and timing therefore run the network ``normalised crop -> last
stack heatmaps``; pre-processing (affine crop, normalisation) and decoding
(argmax + refinement, flip test) stay in mmpose's Python code.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor, nn


class LastStackHeatmaps(nn.Module):
    """``(N, 3, H, W)`` normalised crops -> ``(N, K, h, w)`` last-stack
    heatmaps.

    Wraps a top-down estimator (mmpose ``TopdownPoseEstimator`` or any model
    whose ``forward(inputs, mode='tensor')`` returns the head output). Heads
    that return one tensor (``HeatmapHead``) and heads that return one tensor
    per stack (``CPMHead``, ``StackedHeatmapHead``) are both accepted.

    Args:
        pose_model (nn.Module): The estimator; it is used as is (no copy).

    Input: ``inputs`` (N, 3, H, W) float, already normalised by the model's
    ``data_preprocessor`` (mean/std, RGB), input-space pixels.
    Output: (N, K, h, w) float heatmaps in heatmap space (h = H / 4 for HG-52).

    Raises:
        TypeError: If the model's tensor output is neither a tensor nor a
            non-empty list/tuple of tensors.
    """

    def __init__(self, pose_model: nn.Module) -> None:
        super().__init__()
        self.pose_model = pose_model

    def forward(self, inputs: Tensor) -> Tensor:
        outputs = self.pose_model(inputs, None, mode='tensor')
        return last_stack(outputs)


def last_stack(outputs) -> Tensor:
    """The last stack's heatmaps from a head output.

    Args:
        outputs (Tensor | Sequence[Tensor]): (N, K, h, w) or one such tensor
            per stack, first stack first.

    Returns:
        Tensor: (N, K, h, w).

    Raises:
        TypeError: For any other output type (e.g. a regression head's tuple
            of coordinates is not a heatmap).
    """
    if isinstance(outputs, Tensor):
        return outputs
    if isinstance(outputs, Sequence) and outputs and isinstance(
            outputs[-1], Tensor) and outputs[-1].dim() == 4:
        return outputs[-1]
    raise TypeError('expected heatmaps (N, K, h, w) or a list of them per '
                    f'stack from the head, got {type(outputs).__name__}')


def model_input_size(pose_model: nn.Module) -> Tuple[int, int]:
    """The network input size ``(W, H)`` in pixels, from the head's codec.

    Args:
        pose_model (nn.Module): An mmpose top-down estimator whose head has a
            ``decoder`` (e.g. ``MSRAHeatmap(input_size=(256, 256))``).

    Returns:
        tuple[int, int]: ``(width, height)`` as mmpose codecs store it.

    Raises:
        ValueError: If the head has no decoder with an ``input_size``.
    """
    decoder = getattr(getattr(pose_model, 'head', None), 'decoder', None)
    size = getattr(decoder, 'input_size', None)
    if size is None:
        raise ValueError(
            'cannot tell the input size: the model has no head.decoder with '
            'input_size; pass input_size=(W, H) explicitly')
    return int(size[0]), int(size[1])


@torch.no_grad()
def reference_heatmaps(pose_model: nn.Module,
                       inputs: Tensor,
                       batch_size: int = 8) -> Tensor:
    """Eager fp32 last-stack heatmaps, the reference every backend is
    compared with.

    Args:
        pose_model (nn.Module): The estimator, in eval mode.
        inputs (Tensor): (N, 3, H, W) normalised crops.
        batch_size (int): Crops per forward pass (bounds memory).

    Returns:
        Tensor: (N, K, h, w) float32 on the CPU.
    """
    net = LastStackHeatmaps(pose_model).eval()
    device = next(pose_model.parameters()).device
    return torch.cat([
        net(chunk.to(device)).float().cpu()
        for chunk in inputs.split(batch_size)
    ])
