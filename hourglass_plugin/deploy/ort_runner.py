"""ONNX Runtime heatmap runner (fp32 or int8 ONNX files from this package).

ONNX Runtime with all graph optimisations (constant folding, Conv+BN and
Conv+ReLU fusion, NCHWc layout transformation of convolutions, QDQ ->
QLinearConv fusion for int8 models) runs HG-52 closer to the machine's GEMM
throughput than eager PyTorch. The thread pool is pinned (``intra_op`` =
``threads``, one ``inter_op`` thread, sequential execution).

``spin_wait``: after a run ONNX Runtime's worker threads keep spinning for
the next one (its default). Back to back (the benchmark's latency) that is
what is fastest; in the top-down pipeline, where PyTorch prepares the next
crops and decodes on the same cores, the spinning threads steal them:
measured on 2 cores (main-job network, ``--pipeline`` on data/coco_multi,
three runs each), the crop stage took 25-45 ms per image with spinning and
14-17 ms without (eager PyTorch: 13-17 ms), the network the same within
noise. :class:`~hourglass_plugin.apis.HourglassTopdownInferencer` turns it
off.
"""
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from torch import Tensor

from .onnx_export import INPUT_NAME, OUTPUT_NAME


def ort_providers(device: str) -> List[str]:
    """ONNX Runtime execution providers for ``device`` (``'cpu'``,
    ``'cuda'``, ``'cuda:0'``...).

    Raises:
        RuntimeError: CUDA asked for but ``onnxruntime`` has no CUDA provider
            (``pip install onnxruntime-gpu``).
    """
    import onnxruntime as ort
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise RuntimeError(
                'onnxruntime has no CUDAExecutionProvider; install '
                'onnxruntime-gpu or run with device=cpu')
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    return ['CPUExecutionProvider']


class OrtHeatmapRunner:
    """Run an ONNX heatmap network (``input`` -> ``heatmaps``) in ONNX Runtime.

    Args:
        onnx_file (str): A file written by :func:`export_onnx` or
            :func:`quantize_int8` (input ``input`` (N, 3, H, W), output
            ``heatmaps`` (N, K, h, w), dynamic N).
        threads (int, optional): ``intra_op_num_threads``; None lets ONNX
            Runtime use one thread per physical core.
        device (str): ``'cpu'`` or ``'cuda[:i]'`` (needs onnxruntime-gpu).
        spin_wait (bool): Let the worker threads spin after a run
            (``session.intra_op.allow_spinning``; see the module docstring).
            Defaults to True, ONNX Runtime's default.

    Call: ``runner(inputs)``, ``inputs`` (N, 3, H, W) float32 normalised
    crops (any device) -> (N, K, h, w) float32 heatmaps on the same device.

    Raises:
        FileNotFoundError: If ``onnx_file`` does not exist.
        ValueError: If the graph lacks the ``input``/``heatmaps`` names, or a
            call gets a tensor whose H, W differ from the exported size.
    """

    def __init__(self,
                 onnx_file: str,
                 threads: Optional[int] = None,
                 device: str = 'cpu',
                 spin_wait: bool = True) -> None:
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
        options = ort.SessionOptions()
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = int(threads)
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '1' if spin_wait else '0')
        self.onnx_file = onnx_file
        self.session = ort.InferenceSession(
            onnx_file, options, providers=ort_providers(device))
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ValueError(
                f'{onnx_file}: expected input {INPUT_NAME!r} and output '
                f'{OUTPUT_NAME!r}, got inputs {list(inputs)} and outputs '
                f'{outputs} (export it with tools/export_onnx.py)')
        self.input_hw = tuple(inputs[INPUT_NAME].shape[2:])

    def __repr__(self) -> str:
        return f'OrtHeatmapRunner({self.onnx_file!r})'

    def __call__(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 4 or tuple(inputs.shape[2:]) != self.input_hw:
            raise ValueError(
                f'{self.onnx_file} takes (N, 3, {self.input_hw[0]}, '
                f'{self.input_hw[1]}) crops, got {tuple(inputs.shape)}')
        array = np.ascontiguousarray(inputs.detach().to('cpu',
                                                        torch.float32).numpy())
        (heatmaps, ) = self.session.run([OUTPUT_NAME], {INPUT_NAME: array})
        return torch.from_numpy(heatmaps).to(inputs.device)
