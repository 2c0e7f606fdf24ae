"""Export the last-stack heatmap network to ONNX, with a dynamic batch axis.

Graph: input ``input`` (N, 3, H, W) float32 normalised crops -> output
``heatmaps`` (N, K, h, w) float32, the LAST stack only (what inference
decodes; the intermediate stacks only matter for the training loss). ``N`` is
dynamic; ``H, W`` are fixed at export (the hourglass needs sides that are
multiples of 2^(levels+2), e.g. 128 for HG-52). Uses torch's TorchScript-based
exporter (``dynamo=False``), which needs only ``onnx`` (the dynamo exporter
would also need ``onnxscript``).

The file records which weights it holds: ``metadata_props`` key
:data:`WEIGHTS_KEY` = :func:`weights_fingerprint` of the exported model, so a
runner built from a model and an ONNX file can refuse a file exported from
other weights.
"""
import hashlib
import os
import os.path as osp
from typing import Optional, Tuple

import torch
from torch import nn

from .heatmap_net import LastStackHeatmaps, model_input_size

INPUT_NAME = 'input'
OUTPUT_NAME = 'heatmaps'
#: ONNX ``metadata_props`` key holding :func:`weights_fingerprint`
WEIGHTS_KEY = 'hourglass_plugin.weights_sha256'


def weights_fingerprint(model: nn.Module) -> str:
    """SHA-256 (64 hex digits) over a module's state dict: every entry's
    name, dtype, shape and bytes in name order (parameters and buffers, BN
    statistics included), so equal exactly when the state dicts are."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_onnx(pose_model: nn.Module,
                out_file: str,
                input_size: Optional[Tuple[int, int]] = None,
                opset: int = 17) -> str:
    """Write the model's last-stack heatmap network as an ONNX file.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (any device; it is
            exported from a CPU copy of its graph in eval mode).
        out_file (str): Destination ``.onnx`` path; folders are created.
        input_size (tuple[int, int], optional): ``(W, H)`` in pixels;
            defaults to the head codec's input size.
        opset (int): ONNX opset (>= 11 for nearest ``Resize``).

    Returns:
        str: ``out_file``, with :data:`WEIGHTS_KEY` in its metadata.

    Raises:
        ValueError: If ``opset < 11``.
        ImportError: If the ``onnx`` package is missing (install the
            ``onnx`` extra: ``pip install hourglass_plugin[onnx]``).
    """
    if opset < 11:
        raise ValueError(f'opset must be >= 11, got {opset}')
    import onnx  # torch.onnx needs it: fail early and clearly
    width, height = input_size or model_input_size(pose_model)
    net = LastStackHeatmaps(pose_model).eval()
    device = next(pose_model.parameters()).device
    dummy = torch.zeros(1, 3, height, width, device=device)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            net, (dummy, ),
            out_file,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={n: [0]
                          for n in (INPUT_NAME, OUTPUT_NAME)},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False)
    proto = onnx.load(out_file)
    onnx.helper.set_model_props(proto,
                                {WEIGHTS_KEY: weights_fingerprint(pose_model)})
    onnx.save(proto, out_file)
    return out_file
