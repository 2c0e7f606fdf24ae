"""Fast inference paths for hourglass_plugin (and any mmpose top-down
heatmap) models: ONNX Runtime fp32, int8 (static QDQ calibrated on real
crops), bf16 autocast, channels_last, ``torch.compile``.

Not imported by ``import hourglass_plugin``; ``onnx`` and ``onnxruntime``
(the ``onnx`` extra) are imported only when an ONNX backend is used::

    from mmpose.apis import inference_topdown, init_model
    from hourglass_plugin.deploy import (BackendPoseEstimator,
                                         build_heatmap_runner)

    model = init_model(config, checkpoint, device='cpu')
    runner = build_heatmap_runner(model, 'int8', threads=2,
                                  calib_data='data/')  # or onnx_file=...
    fast = BackendPoseEstimator(model, runner)
    results = inference_topdown(fast, 'image.jpg', bboxes)  # flip test kept
"""
from .agreement import (decode_keypoints, input_noise_floor,
                        keypoint_agreement, perturb_crops, pooled_share)
from .backends import (BACKENDS, ONNX_BACKENDS, build_heatmap_runner,
                       onnx_paths, prepare_onnx)
from .crops import calibration_crops, crop_sources, dataset_crops
from .estimator import BackendPoseEstimator
from .heatmap_net import (LastStackHeatmaps, last_stack, model_input_size,
                          reference_heatmaps)
from .onnx_export import export_onnx
from .ort_runner import OrtHeatmapRunner
from .quantization import (conv_macs, conv_node_names, int8_conv_names,
                           int8_mac_share, quantize_int8)
from .sensitivity import int8_sensitivity
from .torch_runner import TorchHeatmapRunner

__all__ = [
    'BACKENDS', 'ONNX_BACKENDS', 'BackendPoseEstimator', 'LastStackHeatmaps',
    'OrtHeatmapRunner', 'TorchHeatmapRunner', 'build_heatmap_runner',
    'calibration_crops', 'conv_macs', 'conv_node_names', 'crop_sources',
    'dataset_crops', 'decode_keypoints', 'export_onnx', 'input_noise_floor',
    'int8_conv_names', 'int8_mac_share', 'int8_sensitivity',
    'keypoint_agreement', 'last_stack', 'model_input_size', 'onnx_paths',
    'perturb_crops', 'pooled_share', 'prepare_onnx', 'quantize_int8',
    'reference_heatmaps'
]
