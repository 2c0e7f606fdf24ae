"""One name per inference path: build the heatmap runner for a pose model.

=================  =========================================================
backend            what runs the network ``crops -> last-stack heatmaps``
=================  =========================================================
``pytorch``        the model itself (API default); here the same as eager
``eager``          PyTorch fp32 (the reference)
``channels_last``  PyTorch fp32, NHWC weights and activations
``compile``        PyTorch fp32, ``torch.compile`` (inductor)
``onnx``           ONNX Runtime fp32, all graph optimisations (exact path)
``int8``           ONNX Runtime int8, static QDQ calibrated on real crops
                   (optionally with the most sensitive convolutions fp32)
``int8-dynamic``   ONNX Runtime int8, dynamic quantisation (weights only)
``bf16``           PyTorch bf16 autocast (AVX512-BF16/AMX CPUs, GPUs)
``fp16``           PyTorch fp16 autocast (GPUs; emulated on most CPUs)
=================  =========================================================

The exact paths (``eager``, ``channels_last``, ``compile``, ``onnx``) give the
eager heatmaps within float rounding; the reduced-precision ones change them,
and :mod:`hourglass_plugin.deploy.agreement` measures by how much.
"""
import os.path as osp
import tempfile
from typing import Optional

from torch import nn

from .crops import CalibData, calibration_crops
from .onnx_export import export_onnx
from .ort_runner import OrtHeatmapRunner
from .quantization import quantize_int8
from .sensitivity import int8_sensitivity
from .torch_runner import TorchHeatmapRunner

#: every inference path, for the API, the demo and the benchmark alike;
#: ``'pytorch'`` is the model's own ``test_step`` in the API
#: (``HourglassTopdownInferencer``) and the eager runner here
BACKENDS = ('pytorch', 'eager', 'channels_last', 'compile', 'onnx', 'int8',
            'int8-dynamic', 'bf16', 'fp16')
ONNX_BACKENDS = ('onnx', 'int8', 'int8-dynamic')


def onnx_paths(work_dir: str, name: str) -> dict:
    """Where :func:`build_heatmap_runner` keeps a model's ONNX files.

    Returns:
        dict: backend -> path (``{name}.onnx``, ``{name}_int8.onnx``,
        ``{name}_int8_dynamic.onnx`` in ``work_dir``).
    """
    return {
        'onnx': osp.join(work_dir, f'{name}.onnx'),
        'int8': osp.join(work_dir, f'{name}_int8.onnx'),
        'int8-dynamic': osp.join(work_dir, f'{name}_int8_dynamic.onnx'),
    }


def prepare_onnx(pose_model: nn.Module,
                 backend: str,
                 work_dir: str,
                 name: str = 'model',
                 calib_data: Optional[CalibData] = None,
                 reuse: bool = False,
                 int8_keep_fp32: int = 0) -> str:
    """Export (and quantise) the model for an ONNX backend.

    Args:
        pose_model (nn.Module): The estimator.
        backend (str): ``'onnx'``, ``'int8'`` or ``'int8-dynamic'``.
        work_dir (str): Folder for the files (see :func:`onnx_paths`).
        name (str): File name stem.
        calib_data (Tensor | str | dict, optional): Calibration data for
            ``int8`` (see :func:`~.crops.calibration_crops`: crops, a data
            root such as ``data/``, or a dataset config); required there.
        reuse (bool): Keep files that already exist (the caller guarantees
            they come from the same weights).
        int8_keep_fp32 (int): ``int8``: leave this many convolutions in
            fp32, those int8 rounds at the highest cost
            (:func:`~.sensitivity.int8_sensitivity` on the calibration
            crops: one calibration per convolution, minutes); 0: plain int8.

    Returns:
        str: The ONNX file for ``backend``.

    Raises:
        ValueError: If ``backend`` is not an ONNX backend, ``int8``
            without ``calib_data``, or a negative ``int8_keep_fp32``.
        FileNotFoundError: A calibration data root without images.
    """
    if int8_keep_fp32 < 0:
        raise ValueError(f'int8_keep_fp32 must be >= 0, got {int8_keep_fp32}')
    if backend not in ONNX_BACKENDS:
        raise ValueError(f'{backend!r} is not one of {ONNX_BACKENDS}')
    if backend == 'int8' and calib_data is None:
        calibration_crops(pose_model, None)  # the clear error, before export
    paths = onnx_paths(work_dir, name)
    if not (reuse and osp.isfile(paths['onnx'])):
        export_onnx(pose_model, paths['onnx'])
    target = paths[backend]
    if backend == 'onnx' or (reuse and osp.isfile(target)):
        return target
    if backend == 'int8-dynamic':
        return quantize_int8(paths['onnx'], target, mode='dynamic')
    calib = calibration_crops(pose_model, calib_data)
    ranking = int8_sensitivity(paths['onnx'], calib,
                               calib) if int8_keep_fp32 else []
    return quantize_int8(
        paths['onnx'],
        target,
        calib,
        fp32_nodes=[node for node, _ in ranking[:int8_keep_fp32]])


def build_heatmap_runner(pose_model: nn.Module,
                         backend: str = 'eager',
                         threads: Optional[int] = None,
                         work_dir: Optional[str] = None,
                         onnx_file: Optional[str] = None,
                         calib_data: Optional[CalibData] = None,
                         spin_wait: bool = True,
                         int8_keep_fp32: int = 0):
    """The runner ``(N, 3, H, W) crops -> (N, K, h, w) heatmaps`` of a
    backend.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (eval mode).
        backend (str): One of :data:`BACKENDS`.
        threads (int, optional): ONNX Runtime intra-op threads (PyTorch's
            are set with ``torch.set_num_threads`` by the caller).
        work_dir (str, optional): Folder to keep the exported ONNX files in
            (ONNX backends without ``onnx_file``); without it they are
            written to a temporary folder, deleted once the ONNX Runtime
            session has loaded them.
        onnx_file (str, optional): An existing ONNX file for an ONNX backend
            (from ``tools/export_onnx.py``); nothing is exported then.
        calib_data (Tensor | str | dict, optional): What ``int8`` is
            calibrated on (crops, a data root such as ``data/``, or a dataset
            config; see :func:`~.crops.calibration_crops`); required for
            ``int8`` without ``onnx_file``.
        spin_wait (bool): ONNX backends: let ONNX Runtime's threads spin
            between runs (see :class:`OrtHeatmapRunner`).
        int8_keep_fp32 (int): ``int8``: convolutions left in fp32, the most
            sensitive first (see :func:`prepare_onnx`).

    Returns:
        callable: A :class:`TorchHeatmapRunner` or :class:`OrtHeatmapRunner`.

    Raises:
        ValueError: Unknown backend, or ``int8`` to quantise without
            ``calib_data``.
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; choose from '
                         f'{BACKENDS}')
    device = str(next(pose_model.parameters()).device)
    if backend in ONNX_BACKENDS:
        if onnx_file is not None:
            return OrtHeatmapRunner(
                onnx_file, threads=threads, device=device, spin_wait=spin_wait)
        if work_dir is not None:
            onnx_file = prepare_onnx(
                pose_model,
                backend,
                work_dir,
                calib_data=calib_data,
                int8_keep_fp32=int8_keep_fp32)
            return OrtHeatmapRunner(
                onnx_file, threads=threads, device=device, spin_wait=spin_wait)
        # the session holds the model in memory: the files can go right away
        with tempfile.TemporaryDirectory(prefix='hourglass_onnx_') as tmp:
            onnx_file = prepare_onnx(
                pose_model,
                backend,
                tmp,
                calib_data=calib_data,
                int8_keep_fp32=int8_keep_fp32)
            return OrtHeatmapRunner(
                onnx_file, threads=threads, device=device, spin_wait=spin_wait)
    if backend in ('bf16', 'fp16'):
        return TorchHeatmapRunner(pose_model, precision=backend)
    return TorchHeatmapRunner(
        pose_model,
        channels_last=backend == 'channels_last',
        compile=backend == 'compile')
