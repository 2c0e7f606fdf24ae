"""Fast inference for hourglass_plugin (and any mmpose top-down heatmap)
models (backends: :mod:`.backends`). Not imported by ``import
hourglass_plugin``; ``onnx`` / ``onnxruntime`` only for ONNX backends::

    from mmpose.apis import inference_topdown
    from hourglass_plugin.deploy import (BackendPoseEstimator,
                                         build_heatmap_runner)
    from hourglass_plugin.engine import init_pose_model

    model = init_pose_model(config, checkpoint, device='cpu')
    runner = build_heatmap_runner(model, 'int8', threads=2,
                                  calib_data='data/')  # or onnx_file=...
    fast = BackendPoseEstimator(model, runner)
    results = inference_topdown(fast, 'image.jpg', bboxes)  # flip test kept
"""
from .agreement import keypoint_agreement
from .backends import (BACKENDS, ONNX_BACKENDS, build_heatmap_runner,
                       check_backend_device, check_onnx_file, prepare_onnx)
from .crops import calibration_crops, crop_sources, dataset_crops
from .errors import BackendUnavailableError, OnnxMismatchError
from .estimator import BackendPoseEstimator
from .heatmap_net import (LastStackHeatmaps, last_stack, model_input_size,
                          reference_heatmaps)
from .onnx_export import WEIGHTS_KEY, export_onnx, weights_fingerprint
from .ort_runner import OrtHeatmapRunner, ort_providers
from .quantization import quantize_int8
from .torch_runner import TorchHeatmapRunner

__all__ = [
    'BACKENDS', 'ONNX_BACKENDS', 'BackendPoseEstimator',
    'BackendUnavailableError', 'LastStackHeatmaps', 'OnnxMismatchError',
    'OrtHeatmapRunner', 'TorchHeatmapRunner', 'WEIGHTS_KEY',
    'build_heatmap_runner', 'calibration_crops', 'check_backend_device',
    'check_onnx_file', 'crop_sources', 'dataset_crops', 'export_onnx',
    'keypoint_agreement', 'last_stack', 'model_input_size', 'ort_providers',
    'prepare_onnx', 'quantize_int8', 'reference_heatmaps',
    'weights_fingerprint'
]
