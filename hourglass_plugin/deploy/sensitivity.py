"""Which convolutions int8 rounds at a cost: rank them, keep the worst fp32.

Post-training int8 rounds every convolution's weights and input. In a deep
pre-activation network (Newell et al.'s) these errors add up along the
identity skips instead of being renormalised (see :mod:`.quantization`), and
no single setting fixes it. This module measures each convolution's share:
the network is quantised with that ONE convolution in int8 (every other one
fp32) and the relative L2 change of its heatmaps on real crops is recorded.
:func:`~.quantization.quantize_int8` with ``fp32_nodes`` = the top of the
ranking then keeps those in fp32 (mixed precision), at the speed the
benchmark measures.

Cost: one calibration per convolution; the main job's 2-stack network at
128x128 (101 convolutions) took ~4 min on 2 cores.
Reference: ONNX Runtime, "Quantize ONNX models" (``nodes_to_quantize``,
``nodes_to_exclude`` of ``quantize_static``).
"""
import os.path as osp
import tempfile
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .ort_runner import OrtHeatmapRunner
from .quantization import conv_node_names, quantize_int8


def run_in_chunks(runner: OrtHeatmapRunner,
                  crops: Tensor,
                  chunk: int = 8) -> Tensor:
    """(N, 3, H, W) crops -> (N, K, h, w) heatmaps, ``chunk`` crops a run."""
    return torch.cat([runner(c) for c in crops.split(chunk)])


def int8_sensitivity(fp32_file: str,
                     calib_crops: Tensor,
                     eval_crops: Tensor,
                     nodes: Optional[Sequence[str]] = None,
                     threads: Optional[int] = None) -> List[Tuple[str, float]]:
    """Rank convolutions by what rounding each one alone to int8 costs.

    Args:
        fp32_file (str): fp32 ONNX heatmap network (:func:`export_onnx`).
        calib_crops (Tensor): (N, 3, H, W) real normalised crops the int8
            ranges are calibrated on.
        eval_crops (Tensor): (M, 3, H, W) real normalised crops the heatmaps
            are compared on. ``prepare_onnx`` and
            ``tools/int8_sensitivity.py`` pass ``calib_crops`` here, so that
            the crops a keypoint-agreement check uses never choose what
            stays fp32.
        nodes (Sequence[str], optional): Convolutions to rank (default:
            :func:`conv_node_names`, every quantised one).
        threads (int, optional): ONNX Runtime intra-op threads.

    Returns:
        list[tuple[str, float]]: ``(node name, ||int8 - fp32|| / ||fp32||)``
        over all heatmaps of ``eval_crops``, largest first.

    Raises:
        FileNotFoundError: If ``fp32_file`` does not exist.
        ValueError: ``nodes`` naming no convolution of the graph, or crops
            that are not (N >= 1, 3, H, W).
    """
    known = conv_node_names(fp32_file)
    nodes = known if nodes is None else list(nodes)
    unknown = sorted(set(nodes) - set(known))
    if unknown:
        raise ValueError(f'{fp32_file}: no quantised convolution named '
                         f'{unknown[:3]} (see conv_node_names)')
    if eval_crops.dim() != 4 or not len(eval_crops):
        raise ValueError('eval_crops must be (M>=1, 3, H, W), got '
                         f'{tuple(eval_crops.shape)}')
    reference = run_in_chunks(
        OrtHeatmapRunner(fp32_file, threads=threads), eval_crops)
    costs = []
    with tempfile.TemporaryDirectory(prefix='hourglass_int8_') as tmp:
        one = osp.join(tmp, 'one_conv_int8.onnx')
        for node in nodes:
            quantize_int8(fp32_file, one, calib_crops, int8_nodes=[node])
            heatmaps = run_in_chunks(
                OrtHeatmapRunner(one, threads=threads), eval_crops)
            costs.append(
                (node, float(
                    (heatmaps - reference).norm() / reference.norm())))
    return sorted(costs, key=lambda cost: -cost[1])
