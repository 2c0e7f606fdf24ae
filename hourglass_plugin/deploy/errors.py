"""The errors a fast backend raises instead of running wrongly (one line:
what is missing, or which files disagree)."""
from ..engine.errors import CheckpointError, DeviceError


class BackendUnavailableError(DeviceError):
    """The backend cannot run on the requested device: ONNX Runtime without
    the CUDA provider on a CUDA device (install ``onnxruntime-gpu`` or use
    ``--device cpu``), or int8 asked for on CUDA (ONNX Runtime's CUDA
    provider has no int8 convolution kernels for QDQ models). A
    :class:`~hourglass_plugin.engine.errors.DeviceError`, so the tools report
    it in one line."""


class OnnxMismatchError(CheckpointError):
    """An ONNX file that does not belong to the model: exported at another
    input size than the config's, or from other weights than the given
    checkpoint. A :class:`~hourglass_plugin.engine.errors.CheckpointError`
    (hence a ``ValueError``)."""
