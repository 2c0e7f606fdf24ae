"""ONNX Runtime heatmap runner (fp32 or int8 ONNX files from this package):
all graph optimisations, ``threads`` intra-op threads, one inter-op thread.

``cpu`` runs on the ``CPUExecutionProvider``; ``cuda[:i]`` on the
``CUDAExecutionProvider`` (package ``onnxruntime-gpu``) of GPU ``i``
(provider option ``device_id``) with input and output bound on that GPU
(IOBinding: no copy through host memory). Without that provider a CUDA
device raises :class:`~.errors.BackendUnavailableError`; nothing falls back
to the CPU silently. ``spin_wait=False`` stops the CPU threads spinning
between runs (ONNX Runtime's default, fastest back to back), leaving the
cores to other work such as the top-down pipeline's pre-processing.
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
    """``(providers, provider_options)`` of ``InferenceSession`` for a
    torch device string: ``(['CPUExecutionProvider'], [{}])`` for ``cpu``;
    ``(['CUDAExecutionProvider', 'CPUExecutionProvider'], [{'device_id':
    i}, {}])`` for ``cuda:i`` (``cuda``: GPU 0).

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
    options = dict(device_id=dev.index or 0)
    return [CUDA_PROVIDER, 'CPUExecutionProvider'], [options, {}]


class OrtHeatmapRunner:
    """Run an ONNX heatmap network in ONNX Runtime.

    Args:
        onnx_file (str): From :func:`export_onnx` / :func:`quantize_int8`:
            ``input`` (N, 3, H, W) -> ``heatmaps`` (N, K, h, w), dynamic N.
        threads (int, optional): Intra-op threads (None: one per core).
        device (str): ``'cpu'`` or ``'cuda[:i]'`` (:func:`ort_providers`).
        spin_wait (bool): ``session.intra_op.allow_spinning``.

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
        options = ort.SessionOptions()  # all graph optimisations: default
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = int(threads or 0)  # 0: one per core
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
