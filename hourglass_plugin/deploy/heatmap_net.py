"""The part of a top-down pose estimator that every inference backend runs.

A stacked hourglass predicts one heatmap set per stack (intermediate
supervision, Newell et al. 2016, Sec. 3.4); at test time only the last stack
is used (mmpose's ``CPMHead.predict`` takes ``self.forward(feats)[-1]``).
Export, quantisation and timing therefore run the network ``normalised crop
-> last-stack heatmaps``; pre-processing and decoding (flip test included)
stay in mmpose's Python code.
"""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor, nn


def last_stack(outputs: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """The last stack's (N, K, h, w) heatmaps from a head output: one such
    tensor, or one per stack (first stack first).

    Raises:
        TypeError: For any other output (e.g. a regression head's tuple).
    """
    if isinstance(outputs, Tensor):
        return outputs
    if isinstance(outputs, Sequence) and outputs and isinstance(
            outputs[-1], Tensor) and outputs[-1].dim() == 4:
        return outputs[-1]
    raise TypeError('expected heatmaps (N, K, h, w) or a list of them per '
                    f'stack from the head, got {type(outputs).__name__}')


class LastStackHeatmaps(nn.Module):
    """``(N, 3, H, W)`` crops normalised by the model's ``data_preprocessor``
    (input-space pixels) -> ``(N, K, h, w)`` last-stack heatmaps (heatmap
    space, h = H / 4 for HG-52), for any estimator whose ``forward(inputs,
    mode='tensor')`` returns the head output (``HeatmapHead``: one tensor;
    ``CPMHead`` / ``StackedHeatmapHead``: one per stack). The model is used
    as is (no copy); see :func:`last_stack` for what it raises."""

    def __init__(self, pose_model: nn.Module) -> None:
        super().__init__()
        self.pose_model = pose_model

    def forward(self, inputs: Tensor) -> Tensor:
        return last_stack(self.pose_model(inputs, None, mode='tensor'))


def model_input_size(pose_model: nn.Module) -> Tuple[int, int]:
    """The network input size ``(W, H)`` in pixels, from the head codec's
    ``input_size`` (e.g. ``MSRAHeatmap(input_size=(256, 256))``).

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
    """Eager fp32 last-stack heatmaps of (N, 3, H, W) normalised crops,
    ``batch_size`` at a time: the (N, K, h, w) float32 CPU reference every
    backend is compared with (model in eval mode)."""
    net = LastStackHeatmaps(pose_model).eval()
    device = next(pose_model.parameters()).device
    return torch.cat([
        net(chunk.to(device)).float().cpu()
        for chunk in inputs.split(batch_size)
    ])
