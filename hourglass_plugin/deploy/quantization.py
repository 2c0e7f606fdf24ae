"""int8 ONNX models with ONNX Runtime's post-training quantisation.

* ``static`` (default): QDQ format, weights int8 per output channel,
  activations uint8 (u8s8; s8s8 ran slower on the AVX-512-VNNI test CPU)
  with ranges calibrated (min/max) on REAL person crops
  (:mod:`hourglass_plugin.deploy.crops`). ONNX Runtime fuses the
  QuantizeLinear/DequantizeLinear pairs into integer convolutions (VNNI on
  AVX-512 CPUs), which is where the speed comes from.
* ``dynamic``: weights int8, activation ranges computed per call. ONNX
  Runtime only quantises MatMul/Conv this way and re-quantises activations at
  run time, so for a conv net it is usually much slower than ``static``.

The network output (the last convolution, which writes the heatmaps) is kept
in fp32 by default: the quarter-pixel refinement reads differences between
neighbouring heatmap values, which an 8-bit output would flatten. The
residual additions are kept in fp32 too (``fp32_op_types=('Add',)``).

Measured on 2 cores (onnxruntime 1.32, joints within 1 heatmap px of fp32 on
the MPII people of ``data/`` and the COCO people of ``data/coco_multi``, both
with mirrors, 544 joints; PCKh on ``data/``), calibrated on ``coco_det``:

================================  ==============  ==============
setting                           HG-52 @128      Newell 2-stack
================================  ==============  ==============
all ops int8 (MinMax)             99.3%, dPCKh 0  75.6%, dPCKh 0
+ additions in fp32 (default)     99.6%, dPCKh 0  84.7%, dPCKh +1.5
+ first conv in fp32 as well      --              84.6%, dPCKh +1.5
Percentile / Entropy calibration  --              74.5% / 73.4%
================================  ==============  ==============

(HG-52 trained 60 epochs on the 5 sample people, PCKh 57.6; Newell: the main
job's checkpoint, PCKh 89.4.) Additions in fp32 cost ~3% of int8's speed on
HG-52 at 256x256. Static int8 suits HG-52 (post-activation conv-BN-ReLU, BN
folded). It does not reach 99% on Newell et al.'s network; measured on the
main job's checkpoint (MPII / COCO joints; relative L2 change of the
heatmaps; each ``+`` row is the default with that one change):

======================================================  ==================
what is rounded                                         joints, rel. L2
======================================================  ==================
default (above)                                         94.4% / 80.7%, 10%
+ conv outputs in fp32 (ORT extra option)               97.5% / 82.8%, 8%
+ the 2 convs reading the raw residual stream in fp32   98.1% / 84.1%, 9%
+ stem, those convs, skips, predictors fp32 (16 convs)  96.9% / 86.2%, 7%
+ the 60 most sensitive of 101 convs in fp32           99.4% / 98.2%, 0.9%
+ the 90 most sensitive of 101 convs in fp32           100% / 99.7%, 0.4%
weights only, int8 per channel (simulated in PyTorch)   99.4% / 93.5%, 4%
fp32 with +-1 grey level of input noise (the floor)     100% / 97.9%, 0.7%
======================================================  ==================

(The ranking: :func:`~.sensitivity.int8_sensitivity` on the calibration
crops, ``fp32_nodes`` below; ``tools/int8_sensitivity.py`` writes such
mixed-precision models. The stem, at 64x64 and 80% of the MACs, is the most
sensitive part: with 60 / 90 convs fp32 only 8% / 4% of the MACs stay int8,
and the model runs at about ONNX fp32's speed.)

No single layer is to blame: rounding one conv's input alone changes the
heatmaps by 0.3-0.5% for most of the ~100 convs (5% for the conv reading the
un-normalised residual stream, range -56..123), and along the identity skips
of a pre-activation network these errors add up instead of being
renormalised; training 300 epochs instead of 150 (PCKh 100) did not change
the figures, nor did cross-layer equalisation of the BN-ReLU-conv chains or
Percentile / Entropy calibration. On the COCO crops, which the 5-person model
never saw, its heatmaps are flat and even fp32 moves 2.1% of the joints
under the noise of an 8-bit image (:func:`~.agreement.input_noise_floor`;
HG-52: 0%). Measure the keypoint agreement
(:mod:`hourglass_plugin.deploy.agreement`) before deploying a Newell network
in int8; ``onnx`` (fp32) is exact.
Reference: ONNX Runtime documentation, "Quantize ONNX models"
(``onnxruntime.quantization.quantize_static``).
"""
import os
import os.path as osp
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from torch import Tensor

from .onnx_export import INPUT_NAME, OUTPUT_NAME

QUANT_MODES = ('static', 'dynamic')
# ops with integer kernels in ONNX Runtime's CPU provider; BatchNormalization
# stays fp32 (it folds into the preceding Conv when there is one; Newell's
# pre-activation residuals put BN after ReLU, where it cannot fold)
STATIC_OP_TYPES = ('Conv', 'Add', 'MaxPool', 'Resize', 'Relu', 'Concat',
                   'AveragePool', 'GlobalAveragePool')


class CropCalibrationReader:
    """ONNX Runtime ``CalibrationDataReader`` over a tensor of real crops.

    Yields one crop per ``get_next`` (histogram calibrators need equal
    batches) and supports ``set_range`` / ``len`` so that ONNX Runtime can
    calibrate in strides of a few crops (``CalibStridedMinMax``): activations
    of only one stride are held in memory (HG-52 at 256x256: ~150 MB per
    crop), histograms and ranges are merged across strides.

    Args:
        crops (Tensor): (N, 3, H, W) float32 normalised crops (N >= 1).

    Raises:
        ValueError: If ``crops`` is empty or not (N, 3, H, W).
    """

    def __init__(self, crops: Tensor) -> None:
        if crops.dim() != 4 or crops.shape[0] == 0 or crops.shape[1] != 3:
            raise ValueError('calibration needs real crops (N>=1, 3, H, W), '
                             f'got shape {tuple(crops.shape)}')
        self.crops = [
            np.ascontiguousarray(crop[None].float().cpu().numpy())
            for crop in crops
        ]
        self.set_range(0, len(self.crops))

    def __len__(self) -> int:
        return len(self.crops)

    def set_range(self, start_index: int, end_index: int) -> None:
        """Iterate over crops ``start_index:end_index`` next."""
        self._iter: Iterator = iter(self.crops[start_index:end_index])

    def get_next(self) -> Optional[dict]:
        """The next ``{'input': (1, 3, H, W) array}``, or None at the end."""
        crop = next(self._iter, None)
        return None if crop is None else {INPUT_NAME: crop}

    def rewind(self) -> None:
        """Restart from the first crop."""
        self.set_range(0, len(self.crops))


def calibration_stride(num_crops: int, most: int = 4) -> int:
    """The largest number of crops <= ``most`` that divides ``num_crops``
    (ONNX Runtime requires equal strides)."""
    return max(d for d in range(1, most + 1) if num_crops % d == 0)


def boundary_node_names(onnx_file: str) -> dict:
    """Names of the nodes at the graph's ends.

    Returns:
        dict: ``output``: the node(s) writing ``heatmaps``; ``input``: the
        first Conv node(s) reading ``input``.

    Raises:
        ValueError: If no node writes ``heatmaps``.
    """
    import onnx
    graph = onnx.load(onnx_file, load_external_data=False).graph
    names = dict(
        output=[n.name for n in graph.node if OUTPUT_NAME in n.output],
        input=[
            n.name for n in graph.node
            if INPUT_NAME in n.input and n.op_type == 'Conv'
        ])
    if not names['output']:
        raise ValueError(f'{onnx_file}: no node writes {OUTPUT_NAME!r}')
    return names


def output_node_names(onnx_file: str) -> List[str]:
    """Names of the nodes that write the graph output ``heatmaps``.

    Raises:
        ValueError: If no node writes ``heatmaps``.
    """
    return boundary_node_names(onnx_file)['output']


def prepared_for_quantization(fp32_file: str, out_file: str) -> str:
    """ONNX Runtime's pre-processing before quantisation (shape inference,
    graph clean-up and fusions, as its documentation recommends); the node
    names :func:`quantize_int8` takes refer to this graph.

    Returns:
        str: ``out_file``.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process
    quant_pre_process(fp32_file, out_file, skip_symbolic_shape=True)
    return out_file


def conv_node_names(fp32_file: str) -> List[str]:
    """Names of the convolutions :func:`quantize_int8` quantises by default
    (graph order, the heatmap-writing one excluded), in the pre-processed
    graph.

    Raises:
        FileNotFoundError: If ``fp32_file`` does not exist.
    """
    import onnx
    if not osp.isfile(fp32_file):
        raise FileNotFoundError(f'ONNX file not found: {fp32_file}')
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepared_for_quantization(fp32_file,
                                             osp.join(tmp, 'prepared.onnx'))
        output = set(output_node_names(prepared))
        graph = onnx.load(prepared).graph
    return [
        n.name for n in graph.node
        if n.op_type == 'Conv' and n.name not in output
    ]


def conv_macs(fp32_file: str) -> Dict[str, int]:
    """Multiply-accumulates per crop of every convolution, in the
    pre-processed graph (the names :func:`conv_node_names` gives, plus the
    heatmap-writing one): ``H_out * W_out * C_out * C_in / groups * k_h *
    k_w``, from ONNX shape inference at the exported input size.

    Returns:
        dict[str, int]: Conv node name -> MACs for one crop.

    Raises:
        FileNotFoundError: If ``fp32_file`` does not exist.
        ValueError: If a convolution's weight or output shape is unknown.
    """
    import onnx
    if not osp.isfile(fp32_file):
        raise FileNotFoundError(f'ONNX file not found: {fp32_file}')
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepared_for_quantization(fp32_file,
                                             osp.join(tmp, 'prepared.onnx'))
        graph = onnx.shape_inference.infer_shapes(onnx.load(prepared)).graph
    weights = {t.name: list(t.dims) for t in graph.initializer}
    outputs = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(graph.value_info) + list(graph.output)
    }
    macs = {}
    for node in (n for n in graph.node if n.op_type == 'Conv'):
        weight, out = weights.get(node.input[1]), outputs.get(node.output[0])
        if not weight or not out or not all(out[1:]):
            raise ValueError(f'{fp32_file}: shape of convolution {node.name} '
                             'unknown after shape inference')
        macs[node.name] = int(np.prod(out[1:]) * np.prod(weight[1:]))
    return macs


def int8_conv_names(int8_file: str) -> List[str]:
    """Names of the convolutions of a QDQ model that run in int8 (their
    weights come through ``DequantizeLinear``); the others run in fp32.

    Raises:
        FileNotFoundError: If ``int8_file`` does not exist.
    """
    import onnx
    if not osp.isfile(int8_file):
        raise FileNotFoundError(f'ONNX file not found: {int8_file}')
    graph = onnx.load(int8_file).graph
    dequantized = {
        out
        for n in graph.node if n.op_type == 'DequantizeLinear'
        for out in n.output
    }
    return [
        n.name for n in graph.node
        if n.op_type == 'Conv' and n.input[1] in dequantized
    ]


def int8_mac_share(fp32_file: str, int8_file: str) -> float:
    """Share of the convolution MACs that ``int8_file`` (quantised from
    ``fp32_file``) runs in int8: :func:`conv_macs` of the fp32 graph over
    :func:`int8_conv_names` of the int8 one, in [0, 1].

    Raises:
        FileNotFoundError: If either file does not exist.
    """
    macs = conv_macs(fp32_file)
    return sum(macs.get(n, 0)
               for n in int8_conv_names(int8_file)) / sum(macs.values())


def quantize_int8(fp32_file: str,
                  out_file: str,
                  calib_crops: Optional[Tensor] = None,
                  mode: str = 'static',
                  per_channel: bool = True,
                  keep_fp32_output: bool = True,
                  keep_fp32_input: bool = False,
                  fp32_op_types: Sequence[str] = ('Add', ),
                  calib_method: str = 'MinMax',
                  percentile: float = 99.999,
                  fp32_nodes: Sequence[str] = (),
                  int8_nodes: Optional[Sequence[str]] = None) -> str:
    """Quantise an fp32 ONNX heatmap network to int8.

    Args:
        fp32_file (str): ONNX file from :func:`export_onnx`.
        out_file (str): Destination int8 ONNX file.
        calib_crops (Tensor, optional): (N, 3, H, W) real normalised crops
            for ``static`` calibration (required there, ignored for
            ``dynamic``).
        mode (str): ``'static'`` (QDQ, calibrated) or ``'dynamic'``.
        per_channel (bool): Per-output-channel weight scales.
        keep_fp32_output (bool): Leave the node(s) writing the heatmaps in
            fp32 (static mode).
        keep_fp32_input (bool): Leave the first convolution (on the
            normalised image) in fp32 (static mode).
        fp32_op_types (Sequence[str]): Operator types of
            :data:`STATIC_OP_TYPES` left in fp32. The default ``('Add',)``
            keeps the residual additions exact (see the module docstring
            for what it buys).
        calib_method (str): ``CalibrationMethod`` name for the activation
            ranges: ``'MinMax'`` (default), ``'Entropy'`` or
            ``'Percentile'``.
        percentile (float): The percentile for ``'Percentile'``.
        fp32_nodes (Sequence[str]): Further node names (of the graph after
            ONNX Runtime's pre-processing, see :func:`conv_node_names`) left
            in fp32, e.g. the most sensitive convolutions found by
            :func:`~.sensitivity.int8_sensitivity` (static mode).
        int8_nodes (Sequence[str], optional): Quantise only these nodes
            (static mode; None: every node of the quantised op types).

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: Unknown ``mode``, ``calib_method`` or op type, or
            ``static`` without crops.
        FileNotFoundError: If ``fp32_file`` does not exist.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_dynamic,
                                          quantize_static)
    if mode not in QUANT_MODES:
        raise ValueError(f'mode must be one of {QUANT_MODES}, got {mode!r}')
    if calib_method not in CalibrationMethod.__members__:
        raise ValueError(f'calib_method must be one of '
                         f'{list(CalibrationMethod.__members__)}, got '
                         f'{calib_method!r}')
    unknown = set(fp32_op_types) - set(STATIC_OP_TYPES)
    if unknown:
        raise ValueError(f'fp32_op_types {sorted(unknown)} are not among the '
                         f'quantised op types {STATIC_OP_TYPES}')
    if not osp.isfile(fp32_file):
        raise FileNotFoundError(f'ONNX file not found: {fp32_file}')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    if mode == 'dynamic':
        quantize_dynamic(
            fp32_file,
            out_file,
            per_channel=per_channel,
            weight_type=QuantType.QInt8)
        return out_file
    if calib_crops is None:
        raise ValueError('static int8 quantisation needs calib_crops: real '
                         'normalised crops (see deploy.crops)')
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepared_for_quantization(fp32_file,
                                             osp.join(tmp, 'prepared.onnx'))
        ends = boundary_node_names(prepared)
        excluded = (ends['output'] if keep_fp32_output else []) + (
            ends['input'] if keep_fp32_input else []) + list(fp32_nodes)
        quantize_static(
            prepared,
            out_file,
            CropCalibrationReader(calib_crops),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod[calib_method],
            op_types_to_quantize=[
                t for t in STATIC_OP_TYPES if t not in fp32_op_types
            ],
            nodes_to_quantize=None if int8_nodes is None else list(int8_nodes),
            nodes_to_exclude=excluded or None,
            extra_options=dict(
                CalibStridedMinMax=calibration_stride(len(calib_crops)),
                CalibPercentile=percentile))
    return out_file
