"""Checkpoint I/O that is safe to interrupt and safe to load.

* :class:`AtomicLocalBackend`: mmengine's ``LocalBackend`` writes checkpoints
  in place, so a training run killed while saving leaves a truncated ``.pth``.
  This backend writes to a temporary file in the same folder, fsyncs it and
  renames it over the target (``os.replace`` is atomic on POSIX), so a
  checkpoint file is either complete or absent. Select it with
  ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``.
* :func:`allow_mmengine_checkpoint_types`: torch >= 2.6 loads with
  ``weights_only=True``; mmengine 0.10.7 Runner checkpoints hold numpy arrays
  and scalars and mmengine's ``HistoryBuffer`` in the message hub, so
  ``--resume`` fails with ``UnpicklingError``. Instead of switching the safety
  off for every file (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``), we allow just
  the types mmengine stores (``torch.serialization.add_safe_globals``), and
  pickle ``HistoryBuffer`` by its constructor arguments (by default its
  pickle calls the builtin ``getattr``, which must never be allowed).
"""
import copyreg
import os
import os.path as osp
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.model import is_model_wrapper

from .errors import CheckpointError


def _umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """Local file backend whose writes are atomic (temp file + rename)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write ``obj`` to ``filepath`` atomically.

        Args:
            obj (bytes): Data to write (e.g. a serialised checkpoint).
            filepath (str | Path): Destination; parent folders are created.

        Raises:
            OSError: If the folder is not writable or the disk is full
                (``errno.ENOSPC``); ``filename`` is ``filepath`` and the
                destination is left untouched.
        """
        filepath = str(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(
            dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it 0600
            os.replace(tmp_path, filepath)
        except BaseException as err:
            if osp.exists(tmp_path):
                os.remove(tmp_path)
            if isinstance(err, OSError) and err.filename is None:
                # a failed write() names no file: name the destination
                raise OSError(err.errno, err.strerror, filepath) from err
            raise

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text atomically (see :meth:`put`)."""
        self.put(obj.encode(encoding), filepath)


def mmengine_checkpoint_types() -> list:
    """The non-tensor types an mmengine Runner checkpoint contains.

    Returns:
        list: Classes and functions to pass to
        ``torch.serialization.add_safe_globals``: numpy's array
        reconstruction, ``ndarray``, ``dtype`` and its per-type dtype classes,
        numpy scalars, and mmengine's ``HistoryBuffer``.
    """
    multiarray = np.core.multiarray
    dtype_classes = [
        type(np.dtype(t))
        for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64, np.str_, np.object_)
    ]
    return [
        multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
        HistoryBuffer, *dtype_classes
    ]


def _reduce_history_buffer(buffer: HistoryBuffer) -> Tuple[type, tuple]:
    """Pickle a ``HistoryBuffer`` as ``HistoryBuffer(logs, counts,
    max_len)``."""
    return HistoryBuffer, (buffer._log_history, buffer._count_history,
                           buffer.max_length)


def allow_mmengine_checkpoint_types() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine Runner checkpoints.

    Allows the types of :func:`mmengine_checkpoint_types` and makes
    ``HistoryBuffer`` pickle through its constructor, so checkpoints saved
    after this call load with ``weights_only=True``. Idempotent. Called when
    :mod:`hourglass_plugin` is imported, i.e. by every config through
    ``custom_imports``.
    """
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals(mmengine_checkpoint_types())


#: Prefixes stripped from checkpoint keys before they are compared with the
#: model's (a state dict saved from a DDP-wrapped model; mmengine's rule).
REVISE_KEYS = [(r'^module\.', '')]


def _first_line(err: BaseException) -> str:
    """``err``'s first non-empty line (torch's messages span many)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def _why_unreadable(err: BaseException) -> str:
    """What ``torch.load``'s error says about the file, in a few words."""
    text = str(err)
    refused = re.search(r'Unsupported global: GLOBAL (\S+)', text)
    if refused:
        return ('a pickle of Python objects other than tensors, refused by '
                f'torch.load(weights_only=True): {refused.group(1)}')
    if 'Weights only load failed' in text:
        detail = re.search(r'(Unsupported [^\n]+)', text)
        return ('a pickle that torch.load(weights_only=True) refuses'
                f'{f" ({detail.group(1)})" if detail else ""}')
    first = _first_line(err).split('. ')[0]
    if 'zip archive' in first or 'PytorchStreamReader' in first:
        return f'truncated or corrupt archive ({first})'
    if isinstance(err, EOFError):
        return f'truncated ({first})'
    if isinstance(err, (pickle.UnpicklingError, KeyError)):
        return f'not a PyTorch file ({type(err).__name__}: {first})'
    return f'unreadable ({type(err).__name__}: {first})'


def read_checkpoint(
        filename: str,
        map_location: Union[str, Callable, None] = 'cpu') -> Dict[str, Any]:
    """Read a checkpoint file (local path or any mmengine-supported URL)
    with torch's ``weights_only`` loader, refusing anything that is not
    one.

    Args:
        filename (str): A ``.pth``: an mmengine Runner checkpoint (dict with
            ``state_dict``, ``meta``, ...) or a plain state dict
            (parameter name -> tensor).
        map_location (str | callable): Passed to ``torch.load``.

    Returns:
        dict: The checkpoint, always with a ``state_dict`` entry (a plain
        state dict is wrapped as ``{'state_dict': sd}``).

    Raises:
        CheckpointError: ``not a checkpoint: <why> (<filename>)`` for a
            missing file, an empty file, a truncated or corrupt archive, a
            text file, a pickle of objects other than tensors and plain
            metadata, or a dict whose top-level keys hold no state dict
            (e.g. ``{'model': sd}``).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    if '://' not in filename:
        if not osp.isfile(filename):
            raise CheckpointError(f'checkpoint not found ({filename})')
        if osp.getsize(filename) == 0:
            raise CheckpointError(
                f'not a checkpoint: the file is empty (0 bytes) ({filename})')
    try:
        checkpoint = _load_checkpoint(filename, map_location=map_location)
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError,
            ValueError, AttributeError, ImportError, TypeError,
            IndexError) as err:
        raise CheckpointError(
            f'not a checkpoint: {_why_unreadable(err)} ({filename})') from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'not a checkpoint: it holds a {type(checkpoint).__name__}, not '
            f'a dict of tensors ({filename})')
    if 'state_dict' not in checkpoint:
        checkpoint = dict(state_dict=checkpoint)
    state_dict = checkpoint['state_dict']
    if (not isinstance(state_dict, dict) or not state_dict or
            not all(isinstance(v, torch.Tensor) for v in state_dict.values())):
        keys = list(state_dict)[:5] if isinstance(state_dict, dict) else []
        raise CheckpointError(
            'not a checkpoint: no state dict (parameter name -> tensor) '
            f'under "state_dict" or at the top level, whose keys are {keys} '
            f'({filename})')
    return checkpoint


def _revised(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``state_dict`` with :data:`REVISE_KEYS` applied (a new dict)."""
    revised = {}
    for key, value in state_dict.items():
        for pattern, repl in REVISE_KEYS:
            key = re.sub(pattern, repl, key)
        revised[key] = value
    return revised


def _listed(kind: str, keys: List[str], shown: int = 3) -> str:
    """``"<n> <kind> (first: a, b, c)"``."""
    return f'{len(keys)} {kind} (first: {", ".join(keys[:shown])})'


def _misfit(filename: str, config: Optional[str], parts: List[str]) -> str:
    """The one-line message of a checkpoint that does not fit."""
    model = f'the model of {config}' if config else 'the model'
    return (f'checkpoint does not fit {model}: {"; ".join(parts)} '
            f'({filename})')


def fit_state_dict(model: torch.nn.Module,
                   state_dict: Dict[str, torch.Tensor],
                   filename: str,
                   config: Optional[str] = None) -> None:
    """Load ``state_dict`` into ``model`` only if every key and shape fits.

    Shapes of the keys both share are compared before anything is copied;
    keys are then checked after the model's own load hooks ran, so the
    documented, named exceptions pass: the unused ``inters.*`` block of
    mmpose's one-stack ``HourglassNet`` that ``CornerHourglassNet`` drops,
    and the mmpose 0.x ``keypoint_head.*`` names that mmpose's
    ``BasePoseEstimator`` renames to ``head.*``. A ``module.`` prefix (a
    state dict saved from a DDP wrapper) is stripped first.

    Args:
        model (nn.Module): The model (unwrapped).
        state_dict (dict): Parameter name -> tensor.
        filename (str): Named in the error.
        config (str, optional): Named in the error.

    Raises:
        CheckpointError: ``checkpoint does not fit the model of <config>:
            <n> keys differ in shape (first: key checkpoint (..) model
            (..)); <n> missing (first: ...); <n> unexpected (first: ...)
            (<filename>)``. Shape mismatches are found before the model is
            changed; missing or unexpected keys after the matching tensors
            were copied in.
    """
    state_dict = _revised(state_dict)
    own = model.state_dict()
    shapes = [
        f'{key} checkpoint {tuple(value.shape)} model '
        f'{tuple(own[key].shape)}' for key, value in state_dict.items()
        if key in own and tuple(value.shape) != tuple(own[key].shape)
    ]
    if shapes:
        raise CheckpointError(
            _misfit(filename, config,
                    [_listed('keys differ in shape', shapes)]))
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # a shape clash behind a renaming load hook
        found = re.findall(r'size mismatch for ([^:]+):', str(err))
        raise CheckpointError(
            _misfit(filename, config, [
                _listed('keys differ in shape', found)
                if found else _first_line(err)
            ])) from err
    parts = []
    if result.missing_keys:
        parts.append(_listed('missing', list(result.missing_keys)))
    if result.unexpected_keys:
        parts.append(_listed('unexpected', list(result.unexpected_keys)))
    if parts:
        raise CheckpointError(_misfit(filename, config, parts))


def config_name(config: Any) -> Optional[str]:
    """A config's file name for messages (a path, or a ``Config``'s
    ``filename``), or None."""
    if config is None or isinstance(config, (str, Path)):
        return None if config is None else str(config)
    return getattr(config, 'filename', None) or None


def load_model_checkpoint(model: torch.nn.Module,
                          filename: str,
                          config: Optional[str] = None,
                          map_location: str = 'cpu') -> dict:
    """Load ``filename`` into ``model``, refusing any checkpoint that does
    not fit it: the one function inference (:func:`init_pose_model`),
    evaluation, ``load_from`` and resume (:class:`CheckpointCheckedRunner`)
    go through.

    Args:
        model (nn.Module): The model built from ``config`` (a model wrapper
            such as DDP is unwrapped).
        filename (str): A ``.pth`` (mmengine Runner checkpoint or a plain
            state dict), local or any URL mmengine reads.
        config (str | Config, optional): The config the model was built
            from, named in the error.
        map_location (str | callable): Device the tensors are loaded to.

    Returns:
        dict: The loaded checkpoint (``state_dict``, ``meta``, ...).

    Raises:
        CheckpointError: The file is not a checkpoint
            (:func:`read_checkpoint`), or its keys/shapes do not match the
            model (:func:`fit_state_dict`): one line naming the file, the
            config and the first mismatching keys.
    """
    checkpoint = read_checkpoint(filename, map_location)
    if is_model_wrapper(model):
        model = model.module
    fit_state_dict(model, checkpoint['state_dict'], filename,
                   config_name(config))
    return checkpoint


def init_pose_model(config: Any,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> torch.nn.Module:
    """``mmpose.apis.init_model`` whose weights are loaded through
    :func:`load_model_checkpoint` (a misfit is refused, never a warning).

    Args:
        config (str | Path | Config): Config file path or object.
        checkpoint (str, optional): Weights; None keeps the initialisation.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.

    Returns:
        nn.Module: The estimator in eval mode on ``device`` with ``cfg``
        and ``dataset_meta`` set (from the checkpoint's ``meta`` when it has
        one, as mmpose does; else from the config).

    Raises:
        CheckpointError: See :func:`load_model_checkpoint`.
        DeviceError: ``device`` names a CUDA device this machine does not
            have (:func:`~hourglass_plugin.engine.device.check_device`).
    """
    from mmpose.apis import init_model

    from .device import check_device
    device = check_device(device)
    model = init_model(
        str(config) if isinstance(config, Path) else config,
        None,
        device='cpu')
    if checkpoint is not None:
        loaded = load_model_checkpoint(model, checkpoint, config)
        dataset_meta = loaded.get('meta', {}).get('dataset_meta')
        if dataset_meta:
            model.dataset_meta = dataset_meta
    return model.to(device).eval()
