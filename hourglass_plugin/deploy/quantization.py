"""int8 ONNX models with ONNX Runtime's post-training quantisation:
``static`` (QDQ, weights int8 per output channel, activations uint8, ranges
calibrated on REAL crops, :mod:`.crops`; the CPU provider fuses QDQ pairs
into integer kernels) or ``dynamic`` (weights int8, activation ranges per
call). The heatmap-writing node stays fp32 (the quarter-pixel refinement
reads differences of neighbouring heatmap values, which 8 bits flatten), as
do the residual additions (``fp32_op_types``). Check a quantised model with
:func:`~.agreement.keypoint_agreement` on real crops before deploying it.
Reference: ONNX Runtime documentation, "Quantize ONNX models"
(``onnxruntime.quantization.quantize_static`` / ``quantize_dynamic``).
"""
import os
import os.path as osp
import tempfile
from typing import Iterator, List, Optional, Sequence

from torch import Tensor

from .onnx_export import INPUT_NAME, OUTPUT_NAME

QUANT_MODES = ('static', 'dynamic')
# ops with integer kernels in ONNX Runtime's CPU provider; BatchNormalization
# stays fp32 (it folds into a preceding Conv when there is one)
STATIC_OP_TYPES = ('Conv', 'Add', 'MaxPool', 'Resize', 'Relu', 'Concat',
                   'AveragePool', 'GlobalAveragePool')


class CropCalibrationReader:
    """ONNX Runtime ``CalibrationDataReader`` over (N >= 1, 3, H, W) float32
    normalised crops: one ``{'input': (1, 3, H, W) array}`` per
    ``get_next``; ``set_range`` / ``len`` let ONNX Runtime calibrate in
    strides (``CalibStridedMinMax``), holding one stride's activations.

    Raises:
        ValueError: If ``crops`` is empty or not (N, 3, H, W).
    """

    def __init__(self, crops: Tensor) -> None:
        if crops.dim() != 4 or crops.shape[0] == 0 or crops.shape[1] != 3:
            raise ValueError('calibration needs real crops (N>=1, 3, H, W), '
                             f'got shape {tuple(crops.shape)}')
        self.crops = list(crops.float().cpu().numpy()[:, None])
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


def calibration_stride(num_crops: int, most: int = 4) -> int:
    """The largest number of crops <= ``most`` that divides ``num_crops``
    (ONNX Runtime requires equal strides)."""
    return max(d for d in range(1, most + 1) if num_crops % d == 0)


def output_node_names(onnx_file: str) -> List[str]:
    """Names of the nodes that write the graph output ``heatmaps``.

    Raises:
        ValueError: If no node writes ``heatmaps``.
    """
    import onnx
    graph = onnx.load(onnx_file, load_external_data=False).graph
    names = [n.name for n in graph.node if OUTPUT_NAME in n.output]
    if not names:
        raise ValueError(f'{onnx_file}: no node writes {OUTPUT_NAME!r}')
    return names


def quantize_int8(fp32_file: str,
                  out_file: str,
                  calib_crops: Optional[Tensor] = None,
                  mode: str = 'static',
                  per_channel: bool = True,
                  reduce_range: bool = True,
                  keep_fp32_output: bool = True,
                  fp32_op_types: Sequence[str] = ('Add', ),
                  calib_method: str = 'MinMax') -> str:
    """Quantise an fp32 ONNX heatmap network to int8, after ONNX Runtime's
    ``quant_pre_process`` (shape inference, clean-up), as it recommends.

    Args:
        fp32_file (str): ONNX file from :func:`export_onnx`.
        out_file (str): Destination int8 ONNX file (folders are created).
        calib_crops (Tensor, optional): (N, 3, H, W) real normalised crops,
            required for ``static`` (``dynamic`` calibrates nothing).
        mode (str): ``'static'`` (QDQ, calibrated) or ``'dynamic'``.
        per_channel (bool): Per-output-channel weight scales.
        reduce_range (bool): 7-bit weights: ONNX Runtime's u8s8 kernels
            saturate on x86 CPUs without VNNI (AVX2) with 8-bit ones (its
            quantization guide, "reduce_range").
        keep_fp32_output (bool): Keep the heatmap-writing node fp32.
        fp32_op_types (Sequence[str]): Op types of :data:`STATIC_OP_TYPES`
            kept fp32 (static; default: the residual additions).
        calib_method (str): ``'MinMax'``, ``'Entropy'`` or ``'Percentile'``.

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
    from onnxruntime.quantization.shape_inference import quant_pre_process
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
    if mode == 'static' and calib_crops is None:
        raise ValueError('static int8 quantisation needs calib_crops: real '
                         'normalised crops (see deploy.crops)')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(fp32_file, prepared, skip_symbolic_shape=True)
        if mode == 'dynamic':
            quantize_dynamic(
                prepared,
                out_file,
                per_channel=per_channel,
                reduce_range=reduce_range,
                weight_type=QuantType.QInt8)
            return out_file
        quantize_static(
            prepared,
            out_file,
            CropCalibrationReader(calib_crops),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod[calib_method],
            op_types_to_quantize=[
                t for t in STATIC_OP_TYPES if t not in fp32_op_types
            ],
            nodes_to_exclude=output_node_names(prepared)
            if keep_fp32_output else None,
            extra_options=dict(
                CalibStridedMinMax=calibration_stride(len(calib_crops))))
    return out_file
