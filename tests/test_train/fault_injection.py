"""Faults injected into real training runs at a chosen iteration.

Imported by ``tools/train.py`` subprocesses through ``--cfg-options
custom_imports.imports=[hourglass_plugin,tests.test_train.fault_injection]``
with ``custom_hooks`` adding :class:`InjectFaultHook`.
"""
import os
import signal
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner


@HOOKS.register_module()
class InjectFaultHook(Hook):
    """At training iteration ``at_iter`` (1-based, as logged):

    * ``fault='nan'``: before the iteration, fill the model's first
      parameter with NaN, so that iteration's loss is NaN;
    * ``fault='SIGTERM'`` / ``'SIGUSR1'``: after the iteration's
      ``train_step``, the process sends the signal to itself (only on rank
      ``rank`` when given), as slurm would; the handler runs before the
      later hooks of the same iteration.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 at_iter: int,
                 fault: str,
                 rank: Optional[int] = None) -> None:
        self.at_iter = at_iter
        self.fault = fault
        self.rank = rank

    def _now(self, runner: Runner) -> bool:
        return runner.iter + 1 == self.at_iter and (self.rank is None or
                                                    runner.rank == self.rank)

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        if self.fault == 'nan' and self._now(runner):
            with torch.no_grad():
                next(runner.model.parameters()).fill_(float('nan'))

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.fault.startswith('SIG') and self._now(runner):
            os.kill(os.getpid(), getattr(signal, self.fault))
