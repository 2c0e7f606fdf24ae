"""Parameters and multiply-adds of a pose model: the one counter that
``tools/model_complexity.py`` and ``tools/benchmark.py`` share.

mmengine's ``get_model_complexity_info`` (fvcore's counter), as mmpose's
``tools/analysis_tools/get_flops.py`` uses it, on the network
``normalised crop -> heatmaps`` (backbone + head, one image, no flip test,
no decoding). Its "flops" count one fused multiply-add as one operation,
i.e. they are MACs: the convention of mmpose's model zoo. Operators without
a counter (batch norm, additions, pooling, up-sampling) add nothing.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..deploy.heatmap_net import LastStackHeatmaps, model_input_size


def model_complexity(
        pose_model: nn.Module,
        input_size: Optional[Tuple[int, int]] = None) -> Dict[str, int]:
    """Count a top-down estimator's parameters and MACs for one image.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (any device).
        input_size (tuple[int, int], optional): ``(W, H)`` input pixels;
            defaults to the head codec's ``input_size``.

    Returns:
        dict: ``params`` (all parameters), ``backbone_params``,
        ``head_params``, ``macs`` (multiply-adds of one image; mmpose's
        "FLOPs"), ``input_size`` ``(W, H)``.

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
