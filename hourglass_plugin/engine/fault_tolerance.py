"""Long runs that survive divergence and preemption.

* :class:`NonFiniteLossHook` stops training at the first non-finite loss
  (or after N consecutive ones) before ``CheckpointHook`` can save the
  diverged weights, so ``--resume auto`` keeps picking the last good
  checkpoint.
* :class:`PreemptionCheckpointHook`: on ``SIGTERM``/``SIGUSR1`` (what slurm
  sends before it kills a job; ``--signal=USR1@60`` asks for a warning 60 s
  ahead) every rank finishes its iteration, the ranks agree (an
  ``all_reduce`` of the flag), rank 0 writes an atomic checkpoint of the
  current iteration and the run ends cleanly.
* :class:`ResumableEpochBasedTrainLoop`: mmengine 0.10.7's
  ``EpochBasedTrainLoop`` can stop only between epochs and, resumed from a
  mid-epoch checkpoint, would run the whole epoch again. This loop stops
  after any iteration (``stop_training``) and, on resume, skips the
  iterations of the epoch that were already trained. Their batches are
  still drawn from the data loader (and discarded), so the sampler order and
  every random augmentation after the resume are those of an uninterrupted
  run (with :class:`~hourglass_plugin.engine.EpochSeedHook` re-seeding at
  each epoch start).
"""
import math
import os.path as osp
import signal
import threading
from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.dist import all_reduce, barrier, is_distributed
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS, LOOPS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner

from .errors import NonFiniteLossError

#: What slurm sends at pre-emption / ``--signal=USR1@<seconds>``.
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')


def _any_rank(flag: bool) -> bool:
    """Whether ``flag`` is set on any rank (``all_reduce`` max; every rank
    must call it at the same point)."""
    if not is_distributed():
        return flag
    value = torch.tensor([1.0 if flag else 0.0])
    all_reduce(value, op='max')
    return bool(value.item() > 0)


def _last_checkpoint(runner: Runner) -> Optional[str]:
    """The checkpoint ``--resume auto`` would load (``last_checkpoint``)."""
    marker = osp.join(runner.work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        return f.read().strip() or None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training when the loss is NaN or infinite.

    After every training iteration the hook looks at the logged outputs of
    ``train_step`` (mmengine's ``log_vars``: ``loss`` and each term such as
    ``loss_kpt`` and ``kpt_stack<s>``). When a term whose name contains
    ``loss`` is not finite on any rank (ranks agree through an
    ``all_reduce``), the iteration counts as non-finite; after
    ``max_consecutive`` such iterations in a row the hook raises
    :class:`~hourglass_plugin.engine.errors.NonFiniteLossError` naming the
    iteration (1-based, as in the log), the epoch, the batch and every
    non-finite logged term.

    It runs at priority ``LOW``: after ``LoggerHook`` (the bad iteration is
    still logged) and before ``CheckpointHook`` (``VERY_LOW``), so no
    checkpoint of the diverged weights is written, neither an iteration
    checkpoint nor, since the epoch never ends, an epoch checkpoint;
    ``last_checkpoint`` keeps naming the last good one.

    ``max_consecutive > 1`` suits ``AmpOptimWrapper``'s dynamic loss
    scaling, which skips the update of an iteration with infinite gradients;
    with a plain optimizer one non-finite loss already makes the weights
    non-finite.

    Args:
        max_consecutive (int): Non-finite iterations in a row that stop the
            run. Defaults to 1.

    Raises:
        ValueError: ``max_consecutive < 1``.
        NonFiniteLossError: (during training) as described.
    """

    priority = 'LOW'

    def __init__(self, max_consecutive: int = 1) -> None:
        if max_consecutive < 1:
            raise ValueError(
                f'max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = max_consecutive
        self.consecutive = 0

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[Dict] = None) -> None:
        """Count non-finite iterations; raise after ``max_consecutive``."""
        values = {
            name: float(torch.as_tensor(value).detach().float().mean())
            for name, value in (outputs or {}).items()
        }
        bad = [
            name for name, value in values.items() if not math.isfinite(value)
        ]
        if not _any_rank(any('loss' in name for name in bad)):
            self.consecutive = 0
            return
        self.consecutive += 1
        iteration = runner.iter + 1
        terms = ', '.join(f'{name}={value:.6g}'
                          for name, value in values.items()
                          if name in bad) or 'on another rank'
        where = (f'iteration {iteration} (epoch {runner.epoch + 1}, batch '
                 f'{batch_idx + 1})')
        if self.consecutive < self.max_consecutive:
            runner.logger.warning(
                f'non-finite loss at {where}: {terms} ({self.consecutive} '
                f'of {self.max_consecutive} allowed in a row)')
            return
        last = _last_checkpoint(runner)
        raise NonFiniteLossError(
            f'non-finite loss at {where}: {terms}; training stopped without '
            'saving a checkpoint of these weights; ' +
            (f'last checkpoint: {last} (--resume auto continues from it)'
             if last else 'no checkpoint had been written'))


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that stops and resumes mid-epoch.

    * Setting ``stop_training = True`` during an iteration (e.g.
      :class:`PreemptionCheckpointHook`) ends training after that
      iteration, even the epoch's last: no ``after_train_epoch``, no
      validation, then ``after_train`` and ``Runner.train``'s
      ``after_run`` as usual (a resumed run ends that epoch).
    * When the Runner resumed from a checkpoint saved in the middle of an
      epoch (``iter`` > ``epoch`` x iterations per epoch), the first epoch
      draws and discards the batches of the iterations already trained.

    Arguments are those of mmengine's ``EpochBasedTrainLoop``;
    ``tools/train.py`` selects this loop for every epoch-based config
    (:func:`use_resumable_train_loop`).
    """

    class _StoppedMidEpoch(Exception):
        """Internal: unwinds ``run_epoch`` out of ``run``."""

    def run(self) -> torch.nn.Module:
        """Launch training (mmengine's loop), ending early on a mid-epoch
        stop."""
        try:
            return super().run()
        except self._StoppedMidEpoch:
            self.runner.call_hook('after_train')
            return self.runner.model

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping iterations trained before a resume."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        if 0 < done < len(self.dataloader):
            self.runner.logger.info(
                f'Resuming mid-epoch: drawing and discarding the {done} '
                f'batches of epoch {self._epoch + 1} trained before the '
                'checkpoint')
        for idx, data_batch in (enumerate(self.dataloader)
                                if done < len(self.dataloader) else ()):
            if idx < done:
                continue
            self.run_iter(idx, data_batch)
            if self.stop_training:
                raise self._StoppedMidEpoch()
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


def use_resumable_train_loop(cfg: Config) -> None:
    """Make an epoch-based ``train_cfg`` use
    :class:`ResumableEpochBasedTrainLoop` (in place).

    ``train_cfg = dict(by_epoch=True, ...)`` becomes ``dict(type=
    'ResumableEpochBasedTrainLoop', ...)``; any other ``train_cfg`` (an
    explicit ``type``, iteration-based, none) is left as it is.
    """
    train_cfg = cfg.get('train_cfg')
    if train_cfg and 'type' not in train_cfg and train_cfg.get('by_epoch'):
        train_cfg.pop('by_epoch')
        train_cfg['type'] = 'ResumableEpochBasedTrainLoop'


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Save a resumable checkpoint and stop when the job is pre-empted.

    From ``before_train`` to ``after_train`` the listed signals only set a
    flag (the default action, termination, is replaced). At the end of every
    training iteration (a signal during validation is acted on after the
    next one) the ranks agree through an ``all_reduce`` whether any of them
    got a signal; if so, rank 0 writes ``iter_<n>.pth`` (``n`` = iterations
    done) with the checkpoint hook's backend (``atomic_local``: temp file +
    rename), points ``work_dir/last_checkpoint`` at it, every rank waits for
    the write (barrier) and training stops (``stop_training``).
    ``Runner.train`` then returns normally; ``--resume auto`` continues from
    that iteration.

    Priority ``LOWEST``: after :class:`NonFiniteLossHook` (a diverged
    iteration is never saved) and after ``CheckpointHook``.

    Needs a loop that can stop mid-epoch: :class:`ResumableEpochBasedTrainLoop`
    (``tools/train.py`` selects it) or mmengine's ``IterBasedTrainLoop``.
    With another loop the hook logs a warning and stays inactive.

    Args:
        signals (Sequence[str]): Signal names. Defaults to
            ``('SIGTERM', 'SIGUSR1')``.

    Raises:
        ValueError: an unknown signal name.
        RuntimeError: (``before_train``) the Runner resumed from a mid-epoch
            checkpoint with a loop that cannot skip the iterations already
            trained (mmengine's ``EpochBasedTrainLoop``).
    """

    priority = 'LOWEST'

    def __init__(self, signals: Sequence[str] = DEFAULT_SIGNALS) -> None:
        unknown = [s for s in signals if not hasattr(signal, s)]
        if unknown:
            raise ValueError(f'unknown signal(s) {unknown}')
        self.signals = [getattr(signal, s) for s in signals]
        self.received: Optional[str] = None
        self._previous: dict = {}
        self._active = False

    def _on_signal(self, signum: int, frame) -> None:
        """Signal handler: remember the signal; act at the iteration end."""
        self.received = signal.Signals(signum).name

    def before_train(self, runner: Runner) -> None:
        """Install the handlers (main thread only) if the loop can stop."""
        loop = runner.train_loop
        resumable = isinstance(
            loop, (ResumableEpochBasedTrainLoop, IterBasedTrainLoop))
        if not resumable:
            if (isinstance(loop, EpochBasedTrainLoop)
                    and loop.iter != loop.epoch * len(loop.dataloader)):
                raise RuntimeError(
                    f'resumed at iteration {loop.iter}, in the middle of '
                    f'epoch {loop.epoch + 1}: {type(loop).__name__} would '
                    'train that epoch again; use train_cfg type='
                    "'ResumableEpochBasedTrainLoop' (tools/train.py does)")
            runner.logger.warning(
                f'{type(self).__name__}: {type(loop).__name__} cannot stop '
                'mid-epoch; no checkpoint will be saved on SIGTERM/SIGUSR1 '
                "(use train_cfg type='ResumableEpochBasedTrainLoop')")
            return
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning(
                f'{type(self).__name__}: not in the main thread, signal '
                'handlers cannot be installed')
            return
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._active = True

    def after_train(self, runner: Runner) -> None:
        """Restore the previous signal handlers."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        self._active = False

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Save and stop if any rank was signalled (iteration done)."""
        self._maybe_save_and_stop(runner, runner.iter + 1)

    def _maybe_save_and_stop(self, runner: Runner, done_iters: int) -> None:
        """The agreement, the atomic checkpoint and the stop request."""
        if not self._active or not _any_rank(self.received is not None):
            return
        backend_args = dict(backend='atomic_local')
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.backend_args:
                backend_args = hook.backend_args
        filename = f'iter_{done_iters}.pth'
        runner.save_checkpoint(
            runner.work_dir,
            filename,
            meta=dict(epoch=runner.epoch, iter=done_iters),
            by_epoch=False,
            backend_args=backend_args)
        path = osp.join(runner.work_dir, filename)
        if runner.rank == 0:
            get_file_backend(
                runner.work_dir, backend_args=backend_args).put_text(
                    path, osp.join(runner.work_dir, 'last_checkpoint'))
        barrier()
        runner.logger.info(
            f'{self.received or "a signal on another rank"}: saved '
            f'{path} after {done_iters} iterations and stopped; continue '
            'with --resume auto')
        runner.train_loop.stop_training = True
        self._active = False
