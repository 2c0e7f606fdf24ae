"""Export the last-stack heatmap network to ONNX: ``input`` (N, 3, H, W)
float32 normalised crops -> ``heatmaps`` (N, K, h, w) float32 of the LAST
stack (what inference decodes), N dynamic, H and W fixed at export. torch's
TorchScript-based exporter (``dynamo=False``: needs only ``onnx``, not
``onnxscript``); its trace-time warnings about the model's shape checks
(constants at the export size) are silenced. The file records its weights
(``metadata_props`` :data:`WEIGHTS_KEY` = :func:`weights_fingerprint`), so a
runner can refuse a file exported from other weights than a checkpoint's.
"""
import hashlib
import os
import os.path as osp
import warnings
from typing import Optional, Tuple

import torch
from torch import nn

from .heatmap_net import LastStackHeatmaps, model_input_size

INPUT_NAME = 'input'
OUTPUT_NAME = 'heatmaps'
DYNAMIC_AXES = {INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}}
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
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore',
                                'You are using the legacy TorchScript')
        torch.onnx.export(
            net, (dummy, ),
            out_file,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=DYNAMIC_AXES,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False)
    proto = onnx.load(out_file)
    onnx.helper.set_model_props(proto,
                                {WEIGHTS_KEY: weights_fingerprint(pose_model)})
    onnx.save(proto, out_file)
    return out_file
