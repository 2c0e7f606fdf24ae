"""Faults injected into real training runs at a chosen iteration.

Imported by ``tools/train.py`` subprocesses through the config's
``custom_imports`` (``tests/test_train/test_fault_tolerance.py::
fault_config``) with ``custom_hooks`` adding :class:`InjectFaultHook`.
"""
import errno
import os
import signal
import time
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner


def _disk_full(fd: int) -> None:
    """``os.fsync`` on a full disk."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@HOOKS.register_module()
class InjectFaultHook(Hook):
    """At training iteration ``at_iter`` (1-based, as logged):

    * ``fault='nan'``: before the iteration, fill the model's first
      parameter with NaN, so that iteration's loss is NaN;
    * ``fault='SIGTERM'`` / ``'SIGUSR1'`` / ``'SIGKILL'``: after the
      iteration's ``train_step``, the process sends the signal to itself
      (only on rank ``rank`` when given), as slurm or ``kill -9`` would;
      the handler runs before the later hooks of the same iteration;
    * ``fault='ENOSPC'``: at the validation after that iteration, before
      ``CheckpointHook`` saves, the disk becomes full: every later
      ``os.fsync`` (what the atomic checkpoint backend calls before its
      rename) fails with ``OSError(ENOSPC)``;
    * ``fault='wait'``: before training, wait until the file ``wait_for``
      exists.

    With ``scores``, the validation metric ``PCK`` of epoch ``e`` (1-based)
    is replaced by ``scores[e - 1]``, so which checkpoint is the best does
    not depend on the training.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 at_iter: int = 0,
                 fault: str = '',
                 rank: Optional[int] = None,
                 scores: Optional[Sequence[float]] = None,
                 wait_for: Optional[str] = None) -> None:
        self.at_iter = at_iter
        self.fault = fault
        self.rank = rank
        self.scores = scores
        self.wait_for = wait_for

    def _now(self, runner: Runner, done: int) -> bool:
        return done == self.at_iter and (self.rank is None
                                         or runner.rank == self.rank)

    def before_train(self, runner: Runner) -> None:
        while self.fault == 'wait' and not os.path.exists(self.wait_for):
            time.sleep(0.1)

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if self.fault == 'nan' and self._now(runner, runner.iter + 1):
            with torch.no_grad():
                next(runner.model.parameters()).fill_(float('nan'))

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.fault.startswith('SIG') and self._now(runner, runner.iter + 1):
            os.kill(os.getpid(), getattr(signal, self.fault))

    def after_val_epoch(self,
                        runner: Runner,
                        metrics: Optional[dict] = None) -> None:
        if self.scores is not None and metrics is not None:
            metrics['PCK'] = float(self.scores[runner.epoch - 1])
        if self.fault == 'ENOSPC' and self._now(runner, runner.iter):
            os.fsync = _disk_full
