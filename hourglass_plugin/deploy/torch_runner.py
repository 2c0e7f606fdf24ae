"""PyTorch heatmap runners: eager fp32 (the reference), bf16/fp16 autocast,
channels_last and ``torch.compile``.

Every runner is a callable ``(N, 3, H, W) float32 normalised crops ->
(N, K, h, w) float32 last-stack heatmaps`` on the input's device, so the
top-down estimator (:class:`~hourglass_plugin.deploy.BackendPoseEstimator`)
and ``tools/benchmark.py`` treat PyTorch, ONNX Runtime and int8 alike.
"""
from typing import Optional

import torch
from torch import Tensor, nn

from .heatmap_net import LastStackHeatmaps

_AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


class TorchHeatmapRunner:
    """Run the last-stack heatmap network in PyTorch.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (eval mode is set).
        precision (str): ``'fp32'`` (exact), ``'bf16'`` or ``'fp16'``
            (``torch.autocast``; outputs cast back to float32; emulated and
            slow on CPUs without native support).
        channels_last (bool): NHWC weights and inputs.
        compile (bool): ``torch.compile`` (inductor, ``freezing=True``); the
            first call per input shape compiles.

    Call: (N, 3, H, W) float32 crops -> (N, K, h, w) float32 heatmaps, on
    the model's device.

    Raises:
        ValueError: Unknown ``precision``, or inputs not (N, 3, H, W).
    """

    def __init__(self,
                 pose_model: nn.Module,
                 precision: str = 'fp32',
                 channels_last: bool = False,
                 compile: bool = False) -> None:
        if precision not in ('fp32', *_AUTOCAST_DTYPES):
            raise ValueError(f'precision must be fp32, bf16 or fp16, got '
                             f'{precision!r}')
        self.device = next(pose_model.parameters()).device
        self.precision = precision
        self.channels_last = channels_last
        net = LastStackHeatmaps(pose_model.eval())
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        # freezing: weights become constants, so inductor folds BN into the
        # convolutions and pre-packs them for oneDNN (inference only)
        self.net = torch.compile(
            net, options=dict(freezing=True)) if compile else net

    def __repr__(self) -> str:
        return (f'TorchHeatmapRunner(precision={self.precision!r}, '
                f'channels_last={self.channels_last})')

    @torch.no_grad()
    def __call__(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError('expected normalised crops (N, 3, H, W), got '
                             f'shape {tuple(inputs.shape)}')
        inputs = inputs.to(self.device, torch.float32)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        dtype: Optional[torch.dtype] = _AUTOCAST_DTYPES.get(self.precision)
        with torch.autocast(
                self.device.type, dtype=dtype, enabled=dtype is not None):
            heatmaps = self.net(inputs)
        return heatmaps.float().contiguous()
