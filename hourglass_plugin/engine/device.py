"""The torch device to run on: the one the machine has by default, and a
one-line refusal of a device it does not have."""
from typing import Optional

import torch

from .errors import DeviceError


def default_device() -> str:
    """``'cuda:0'`` when ``torch.cuda.is_available()``, else ``'cpu'``."""
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


def check_device(device: Optional[str] = None) -> str:
    """``device`` if this machine has it.

    Args:
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:<i>'`` (or
            any device string torch parses); None picks
            :func:`default_device`.

    Returns:
        str: ``device`` unchanged (or the default).

    Raises:
        DeviceError: torch does not parse ``device`` (e.g. ``'gpu'``), or it
            is a CUDA device and CUDA is unavailable or has fewer devices
            than the index needs; one line naming the device and what this
            machine has.
    """
    if device is None:
        return default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DeviceError(
            f"unknown device '{device}' (use cpu, cuda or cuda:<index>): "
            f'{str(err).splitlines()[0]}') from None
    if parsed.type != 'cuda':
        return device
    if not torch.cuda.is_available():
        raise DeviceError(
            f"device '{device}' needs a CUDA GPU, but torch sees none "
            f'(torch {torch.__version__}, CUDA build: '
            f'{torch.version.cuda or "no"}); use --device cpu')
    count = torch.cuda.device_count()
    if parsed.index is not None and parsed.index >= count:
        raise DeviceError(f"device '{device}' does not exist: this machine "
                          f'has {count} CUDA device(s), cuda:0..{count - 1}')
    return device
