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
import tempfile
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer


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
            OSError: If the folder is not writable or the disk is full; the
                destination is then left untouched.
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
        except BaseException:
            if osp.exists(tmp_path):
                os.remove(tmp_path)
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


def load_model_checkpoint(model: torch.nn.Module,
                          filename: str,
                          config: Optional[str] = None,
                          map_location: str = 'cpu') -> dict:
    """Load ``filename`` into ``model``, refusing any checkpoint that does
    not fit it: the one function inference, evaluation, ``load_from`` and
    resume go through.

    Args:
        model (nn.Module): The model built from ``config``.
        filename (str): A ``.pth`` (mmengine Runner checkpoint or a plain
            state dict).
        config (str, optional): The config the model was built from, named
            in the error.
        map_location (str): Device the tensors are loaded to.

    Returns:
        dict: The loaded checkpoint (``meta`` etc.).

    Raises:
        CheckpointError: The file is not a checkpoint, or its keys/shapes do
            not match the model (one line: file, config, first keys).
    """
    from mmengine.runner import load_checkpoint
    return load_checkpoint(model, filename, map_location=map_location)


def init_pose_model(config: str,
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu') -> torch.nn.Module:
    """``mmpose.apis.init_model`` whose weights are loaded through
    :func:`load_model_checkpoint` (a misfit is refused, never a warning).

    Args:
        config (str): Config file path.
        checkpoint (str, optional): Weights; None keeps the initialisation.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.

    Returns:
        nn.Module: The estimator in eval mode with ``cfg`` and
        ``dataset_meta`` set (from the checkpoint's meta when it has one).

    Raises:
        CheckpointError: See :func:`load_model_checkpoint`.
    """
    from mmpose.apis import init_model
    return init_model(config, checkpoint, device=device)
