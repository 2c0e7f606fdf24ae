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
``int8-dynamic``   ONNX Runtime int8, dynamic quantisation (weights only)
``bf16``           PyTorch bf16 autocast (AVX512-BF16/AMX CPUs, GPUs)
``fp16``           PyTorch fp16 autocast (GPUs; emulated on most CPUs)
=================  =========================================================

The exact paths (``eager``, ``channels_last``, ``compile``, ``onnx``) give the
eager heatmaps within float rounding; the reduced-precision ones change them,
and :mod:`hourglass_plugin.deploy.agreement` measures by how much. The ONNX
backends run on the CPU, and ``onnx`` also on CUDA with ``onnxruntime-gpu``
(:mod:`.ort_runner`); int8 is refused on CUDA.
"""
import os.path as osp
import tempfile
from typing import Optional

from torch import nn

from .crops import CalibData, calibration_crops
from .errors import BackendUnavailableError, OnnxMismatchError
from .heatmap_net import model_input_size
from .onnx_export import WEIGHTS_KEY, export_onnx, weights_fingerprint
from .ort_runner import OrtHeatmapRunner
from .quantization import quantize_int8
from .torch_runner import TorchHeatmapRunner

#: every inference path, for the API, the demo and the benchmark alike;
#: ``'pytorch'`` is the model's own ``test_step`` in the API
#: (``HourglassTopdownInferencer``) and the eager runner here
BACKENDS = ('pytorch', 'eager', 'channels_last', 'compile', 'onnx', 'int8',
            'int8-dynamic', 'bf16', 'fp16')
ONNX_BACKENDS = ('onnx', 'int8', 'int8-dynamic')


def check_backend_device(backend: str, device: str) -> None:
    """Refuse ``int8`` / ``int8-dynamic`` on a CUDA device with
    :class:`BackendUnavailableError`: ONNX Runtime's CUDA provider has no
    int8 kernels for these models (it would run them dequantised or move
    nodes to the CPU), so it is not an int8 path."""
    if backend in ('int8', 'int8-dynamic') and device.startswith('cuda'):
        raise BackendUnavailableError(
            f'{backend} on {device}: ONNX Runtime\'s CUDA provider has no '
            'int8 kernels for QDQ/dynamic int8 models; use --backend onnx or '
            f'fp16 on CUDA, or --device cpu for {backend}')


def check_onnx_file(runner: OrtHeatmapRunner,
                    pose_model: nn.Module,
                    checkpoint: Optional[str] = None) -> None:
    """Check that the ONNX file of ``runner`` belongs to ``pose_model``: its
    input size is the codec's, and, when ``checkpoint`` (the file the
    model's weights came from) is given, it records the model's weights
    (:data:`~.onnx_export.WEIGHTS_KEY`, written by :func:`export_onnx`).

    Raises:
        OnnxMismatchError: One line naming the ONNX file and the config's
            size or the checkpoint.
    """
    width, height = model_input_size(pose_model)
    if tuple(runner.input_hw) != (height, width):
        raise OnnxMismatchError(
            f'{runner.onnx_file}: exported for {runner.input_hw[1]}x'
            f'{runner.input_hw[0]} (W x H) input, but the config\'s '
            f'codec.input_size is {width}x{height}')
    if checkpoint is None:
        return
    recorded = runner.metadata.get(WEIGHTS_KEY)
    if recorded is None:
        raise OnnxMismatchError(
            f'{runner.onnx_file} records no weights fingerprint, so it '
            f'cannot be checked against {checkpoint}; re-export it with '
            'tools/export_onnx.py, or give no checkpoint')
    if recorded != weights_fingerprint(pose_model):
        raise OnnxMismatchError(
            f'{runner.onnx_file} was exported from other weights than '
            f'{checkpoint}; export it from that checkpoint, or give only one '
            'of the two')


def prepare_onnx(pose_model: nn.Module,
                 backend: str,
                 work_dir: str,
                 name: str = 'model',
                 calib_data: Optional[CalibData] = None,
                 reuse: bool = False) -> str:
    """Export (and quantise) the model for an ONNX backend, into
    ``work_dir/{name}.onnx`` (fp32), ``{name}_int8.onnx`` or
    ``{name}_int8_dynamic.onnx``.

    ``int8`` calibrates on ``calib_data`` (required there, see
    :func:`~.crops.calibration_crops`); ``reuse`` quantises the fp32 file of
    an earlier call instead of exporting again (the caller guarantees the
    same weights). Returns the file for ``backend``.

    Raises:
        ValueError: ``backend`` is not an ONNX backend, or ``int8`` without
            ``calib_data``.
        FileNotFoundError: A calibration data root without images.
    """
    if backend not in ONNX_BACKENDS:
        raise ValueError(f'{backend!r} is not one of {ONNX_BACKENDS}')
    if backend == 'int8' and calib_data is None:
        calibration_crops(pose_model, None)  # the clear error, before export
    fp32 = osp.join(work_dir, f'{name}.onnx')
    if not (reuse and osp.isfile(fp32)):
        export_onnx(pose_model, fp32)
    if backend == 'onnx':
        return fp32
    target = osp.join(work_dir, f'{name}_{backend.replace("-", "_")}.onnx')
    if backend == 'int8-dynamic':
        return quantize_int8(fp32, target, mode='dynamic')
    return quantize_int8(fp32, target,
                         calibration_crops(pose_model, calib_data))


def build_heatmap_runner(pose_model: nn.Module,
                         backend: str = 'eager',
                         threads: Optional[int] = None,
                         work_dir: Optional[str] = None,
                         onnx_file: Optional[str] = None,
                         calib_data: Optional[CalibData] = None,
                         spin_wait: bool = True,
                         checkpoint: Optional[str] = None):
    """The runner ``(N, 3, H, W) crops -> (N, K, h, w) heatmaps`` of a
    backend (:data:`BACKENDS`), on the model's device.

    Args:
        pose_model (nn.Module): mmpose top-down estimator (eval mode).
        threads (int, optional): ONNX Runtime intra-op threads (PyTorch's:
            ``torch.set_num_threads`` by the caller).
        work_dir (str, optional): Keep the exported ONNX files there (else a
            temporary folder, deleted once the session has loaded them).
        onnx_file (str, optional): An existing ONNX file for an ONNX backend
            (nothing is exported), checked by :func:`check_onnx_file`.
        calib_data (Tensor | str | dict, optional): What ``int8`` calibrates
            on (:func:`~.crops.calibration_crops`), unless ``onnx_file``.
        spin_wait (bool): See :class:`OrtHeatmapRunner`.
        checkpoint (str, optional): The file the model's weights came from;
            with ``onnx_file``, that file must hold the same weights.

    Raises:
        ValueError: Unknown backend, or ``int8`` without ``calib_data``.
        BackendUnavailableError: See :func:`check_backend_device` and
            :func:`~.ort_runner.ort_providers`.
        OnnxMismatchError: See :func:`check_onnx_file`.
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; choose from '
                         f'{BACKENDS}')
    device = str(next(pose_model.parameters()).device)
    check_backend_device(backend, device)
    if backend not in ONNX_BACKENDS:
        return TorchHeatmapRunner(
            pose_model, backend if backend in ('bf16', 'fp16') else 'fp32',
            backend == 'channels_last', backend == 'compile')
    if onnx_file is not None:
        runner = OrtHeatmapRunner(onnx_file, threads, device, spin_wait)
        check_onnx_file(runner, pose_model, checkpoint)
        return runner
    with tempfile.TemporaryDirectory(prefix='hourglass_onnx_') as tmp:
        # the session holds the model in memory: the files can go right away
        onnx_file = prepare_onnx(
            pose_model, backend, work_dir or tmp, calib_data=calib_data)
        return OrtHeatmapRunner(onnx_file, threads, device, spin_wait)
