"""Parameters and multiply-adds (MACs, mmpose's "FLOPs") of a pose model:
mmengine's ``get_model_complexity_info``, as mmpose's ``get_flops.py``, on
``normalised crop -> last-stack heatmaps`` (one image, no flip test)."""
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..deploy.heatmap_net import LastStackHeatmaps, model_input_size


def model_complexity(
        pose_model: nn.Module,
        input_size: Optional[Tuple[int, int]] = None) -> Dict[str, int]:
    """``params`` (all), ``backbone_params``, ``head_params``, ``macs`` (of
    one image) and ``input_size`` ``(W, H)`` in pixels (default: the head
    codec's) of a top-down estimator on any device.

    Raises:
        ValueError: No ``input_size`` given and none in the codec.
    """
    from mmengine.analysis import get_model_complexity_info
    width, height = input_size or model_input_size(pose_model)
    device = next(pose_model.parameters()).device
    info = get_model_complexity_info(
        LastStackHeatmaps(pose_model.eval()),
        inputs=(torch.zeros(1, 3, height, width, device=device), ),
        show_table=False,
        show_arch=False)
    return dict(
        params=int(info['params']),
        backbone_params=sum(p.numel()
                            for p in pose_model.backbone.parameters()),
        head_params=sum(p.numel() for p in pose_model.head.parameters()),
        macs=int(info['flops']),
        input_size=(int(width), int(height)))
