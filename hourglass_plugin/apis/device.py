"""The torch device inference runs on: the one the machine has by default,
and a one-line refusal of a device it does not have."""
from typing import Optional

import torch

from .errors import InferenceError


def default_device() -> str:
    """``'cuda:0'`` when ``torch.cuda.is_available()``, else ``'cpu'``."""
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


def check_device(device: Optional[str] = None) -> str:
    """The device to run on, checked before any model is built.

    Args:
        device (str, optional): a torch device string (``'cpu'``,
            ``'cuda'``, ``'cuda:N'``, ...); None picks
            :func:`default_device`.

    Returns:
        str: ``device`` as given (or the default).

    Raises:
        InferenceError: ``device`` is not a torch device string (e.g.
            ``'gpu'``), names CUDA on a machine without it
            (``torch.cuda.is_available()`` is False), or names a CUDA index
            the machine does not have.
    """
    if device is None:
        return default_device()
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise InferenceError(
            f"device '{device}' is not a torch device; use 'cpu', 'cuda' or "
            "'cuda:N'") from None
    if parsed.type != 'cuda':
        return device
    if not torch.cuda.is_available():
        raise InferenceError(
            f"device '{device}': CUDA is not available on this machine "
            "(torch.cuda.is_available() is False); use device 'cpu'")
    count = torch.cuda.device_count()
    if parsed.index is not None and parsed.index >= count:
        names = ', '.join(f'cuda:{i}' for i in range(count))
        raise InferenceError(f"device '{device}': no such CUDA device; this "
                             f'machine has {names}')
    return device
