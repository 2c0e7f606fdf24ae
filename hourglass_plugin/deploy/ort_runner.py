"""ONNX Runtime heatmap runner (fp32 or int8 ONNX files from this package).

The session runs with all graph optimisations (constant folding, Conv+BN
and Conv+ReLU fusion, layout transformation, QDQ -> integer kernels for int8
models), ``intra_op`` = ``threads``, one ``inter_op`` thread, sequential
execution.

Devices: ``cpu`` uses the ``CPUExecutionProvider``. ``cuda[:i]`` uses the
``CUDAExecutionProvider`` (the ``onnxruntime-gpu`` package) on GPU ``i``
(provider option ``device_id``), with the input and output bound on that GPU
through ONNX Runtime's IOBinding, so a CUDA tensor never goes through host
memory. Without that provider a CUDA device raises
:class:`~.errors.BackendUnavailableError` (no silent fallback to the CPU).

``spin_wait``: after a run ONNX Runtime's CPU worker threads keep spinning
for the next one (its default, fastest back to back). Where other work
shares the cores between runs (the top-down pipeline's pre-processing and
decoding), ``spin_wait=False`` leaves the cores to it.
"""
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .errors import BackendUnavailableError
from .onnx_export import INPUT_NAME, OUTPUT_NAME

CUDA_PROVIDER = 'CUDAExecutionProvider'


def ort_providers(device: str) -> Tuple[List[str], List[dict]]:
    """ONNX Runtime execution providers and their options for ``device``.

    Args:
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:i'`` (torch's
            spelling; ``'cuda'`` is GPU 0).

    Returns:
        tuple: ``(providers, provider_options)`` for ``InferenceSession``:
        ``(['CPUExecutionProvider'], [{}])`` on the CPU;
        ``(['CUDAExecutionProvider', 'CPUExecutionProvider'],
        [{'device_id': i}, {}])`` on CUDA.

    Raises:
        BackendUnavailableError: CUDA asked for but ``onnxruntime`` has no
            CUDA provider.
        ValueError: Any other device string.
    """
    import onnxruntime as ort
    dev = torch.device(device)
    if dev.type == 'cpu':
        return ['CPUExecutionProvider'], [{}]
    if dev.type != 'cuda':
        raise ValueError(f'ONNX backends run on cpu or cuda[:i], got '
                         f'{device!r}')
    if CUDA_PROVIDER not in ort.get_available_providers():
        raise BackendUnavailableError(
            f'device {device}: the installed onnxruntime has no '
            f'{CUDA_PROVIDER}; pip install onnxruntime-gpu, or use --device '
            'cpu')
    return [CUDA_PROVIDER, 'CPUExecutionProvider'], [{
        'device_id':
        dev.index or 0
    }, {}]


class OrtHeatmapRunner:
    """Run an ONNX heatmap network (``input`` -> ``heatmaps``) in ONNX Runtime.

    Args:
        onnx_file (str): A file written by :func:`export_onnx` or
            :func:`quantize_int8` (input ``input`` (N, 3, H, W), output
            ``heatmaps`` (N, K, h, w), dynamic N).
        threads (int, optional): ``intra_op_num_threads``; None lets ONNX
            Runtime use one thread per physical core.
        device (str): ``'cpu'`` or ``'cuda[:i]'`` (see :func:`ort_providers`).
        spin_wait (bool): ``session.intra_op.allow_spinning`` (see the module
            docstring). Defaults to True, ONNX Runtime's default.

    Attributes:
        input_hw (tuple[int, int]): The exported (H, W) in pixels.
        metadata (dict): The file's ``metadata_props`` (e.g. the weights
            fingerprint :data:`~.onnx_export.WEIGHTS_KEY`).

    Call: ``runner(inputs)``, ``inputs`` (N, 3, H, W) float32 normalised
    crops (any device) -> (N, K, h, w) float32 heatmaps on the runner's
    device (CUDA) or the input's device (CPU runner).

    Raises:
        FileNotFoundError: If ``onnx_file`` does not exist.
        BackendUnavailableError: See :func:`ort_providers`.
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
        providers, provider_options = ort_providers(device)
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
        self.device = torch.device(device)
        self.session = ort.InferenceSession(
            onnx_file,
            options,
            providers=providers,
            provider_options=provider_options)
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ValueError(
                f'{onnx_file}: expected input {INPUT_NAME!r} and output '
                f'{OUTPUT_NAME!r}, got inputs {list(inputs)} and outputs '
                f'{list(outputs)} (export it with tools/export_onnx.py)')
        self.input_hw = tuple(inputs[INPUT_NAME].shape[2:])
        self.output_khw = tuple(outputs[OUTPUT_NAME].shape[1:])
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __repr__(self) -> str:
        return f'OrtHeatmapRunner({self.onnx_file!r}, {str(self.device)!r})'

    def __call__(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 4 or tuple(inputs.shape[2:]) != self.input_hw:
            raise ValueError(
                f'{self.onnx_file} takes (N, 3, {self.input_hw[0]}, '
                f'{self.input_hw[1]}) crops, got {tuple(inputs.shape)}')
        if self.device.type == 'cuda':
            return self._run_on_cuda(inputs)
        array = np.ascontiguousarray(inputs.detach().to('cpu',
                                                        torch.float32).numpy())
        (heatmaps, ) = self.session.run([OUTPUT_NAME], {INPUT_NAME: array})
        return torch.from_numpy(heatmaps).to(inputs.device)

    def _run_on_cuda(self, inputs: Tensor) -> Tensor:
        """Run with the input and output bound on the GPU (IOBinding)."""
        index = self.device.index or 0
        x = inputs.detach().to(self.device, torch.float32).contiguous()
        out = torch.empty((x.shape[0], *self.output_khw),
                          dtype=torch.float32,
                          device=self.device)
        binding = self.session.io_binding()
        binding.bind_input(INPUT_NAME, 'cuda', index, np.float32,
                           tuple(x.shape), x.data_ptr())
        binding.bind_output(OUTPUT_NAME, 'cuda', index, np.float32,
                            tuple(out.shape), out.data_ptr())
        torch.cuda.synchronize(self.device)  # x is written on torch's stream
        self.session.run_with_iobinding(binding)
        return out
