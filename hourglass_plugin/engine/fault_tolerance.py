"""Long runs that survive divergence and preemption.

* :class:`NonFiniteLossHook` stops training at the first non-finite loss
  (or after N consecutive ones) before ``CheckpointHook`` can save the
  diverged weights, so ``--resume auto`` keeps picking the last good
  checkpoint.
* :class:`PreemptionCheckpointHook`: on ``SIGTERM``/``SIGUSR1`` (what slurm
  sends before it kills a job; ``--signal=USR1@60`` asks for a warning 60 s
  ahead) every rank finishes its iteration, the ranks agree (one
  ``all_reduce`` per iteration carries this flag and the non-finite one:
  :class:`RankAgreement`), rank 0 writes an atomic checkpoint of the
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
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.dist import all_reduce, barrier, is_distributed
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import HOOKS, LOOPS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner

from .errors import NonFiniteLossError

#: What slurm sends at pre-emption / ``--signal=USR1@<seconds>``.
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')


def _any_rank(flags: List[bool]) -> List[bool]:
    """Whether each flag is set on any rank: one ``all_reduce`` (max) of
    them all; every rank must call it at the same point."""
    if not is_distributed():
        return list(flags)
    value = torch.tensor([1.0 if flag else 0.0 for flag in flags])
    all_reduce(value, op='max')
    return [bool(v > 0) for v in value.tolist()]


class RankAgreement:
    """Mixin of the fault hooks that need every rank to agree on a flag
    after each training iteration: the first of them to ask in an
    iteration makes one ``all_reduce`` carrying the flags of all of them
    (:meth:`local_flag`), the others read its result. So
    :class:`NonFiniteLossHook` and :class:`PreemptionCheckpointHook` cost
    one collective per iteration between them (two only if a config
    reorders them so that the pre-emption hook asks before the non-finite
    check has looked at the iteration's loss)."""

    _agreed_at: Optional[int] = None
    _agreed: bool = False

    def local_flag(self) -> bool:
        """This rank's flag for the current iteration."""
        raise NotImplementedError

    def _agree(self, runner: Runner) -> bool:
        """This hook's flag, or-ed over the ranks, for ``runner.iter``."""
        if self._agreed_at == runner.iter:
            return self._agreed
        hooks = [
            hook for hook in getattr(runner, 'hooks', ())
            if isinstance(hook, RankAgreement)
        ] or [self]
        if self not in hooks:
            hooks.append(self)
        for hook, flag in zip(hooks,
                              _any_rank([h.local_flag() for h in hooks])):
            hook._agreed_at, hook._agreed = runner.iter, flag
        return self._agreed


def _last_checkpoint(runner: Runner) -> Optional[str]:
    """The checkpoint ``--resume auto`` would load (``last_checkpoint``)."""
    marker = osp.join(runner.work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        return f.read().strip() or None


@HOOKS.register_module()
class NonFiniteLossHook(RankAgreement, Hook):
    """Stop training when the loss is NaN or infinite.

    After every training iteration the hook looks at the logged outputs of
    ``train_step`` (mmengine's ``log_vars``: ``loss`` and each term such as
    ``loss_kpt`` and ``kpt_stack<s>``). When a term whose name contains
    ``loss`` is not finite on any rank (ranks agree through the
    ``all_reduce`` of :class:`RankAgreement`), the iteration counts as
    non-finite; after
    ``max_consecutive`` such iterations in a row the hook raises
    :class:`~hourglass_plugin.engine.errors.NonFiniteLossError` naming the
    iteration (1-based, as in the log), the epoch, the batch and every
    non-finite logged term.

    It runs at priority ``LOW``: after ``LoggerHook`` (the bad iteration is
    still logged) and before ``CheckpointHook`` (``VERY_LOW``), so no
    checkpoint of the diverged weights is written, neither an iteration
    checkpoint nor, since the epoch never ends, an epoch checkpoint;
    ``last_checkpoint`` keeps naming the last good one.

    With a plain optimizer one non-finite loss already makes the weights
    non-finite. ``AmpOptimWrapper``'s dynamic loss scaling (``--amp``)
    instead skips the update of an iteration whose fp16 loss or gradients
    overflow and halves the scale, so under it the hook allows up to
    ``amp_max_consecutive`` such iterations in a row (raised at
    ``before_train``, said in the log): 16 halvings bring mmengine's initial
    scale 2**16 down to 1, past which the overflow is not the scale's.

    Args:
        max_consecutive (int): Non-finite iterations in a row that stop the
            run. Defaults to 1.
        amp_max_consecutive (int): The same with ``AmpOptimWrapper`` (never
            lower than ``max_consecutive``). Defaults to 16.

    Raises:
        ValueError: ``max_consecutive < 1`` or ``amp_max_consecutive < 1``.
        NonFiniteLossError: (during training) as described.
    """

    priority = 'LOW'

    def __init__(self,
                 max_consecutive: int = 1,
                 amp_max_consecutive: int = 16) -> None:
        for name, value in (('max_consecutive', max_consecutive),
                            ('amp_max_consecutive', amp_max_consecutive)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        self.max_consecutive = max_consecutive
        self.amp_max_consecutive = amp_max_consecutive
        self.consecutive = 0
        self._bad: List[str] = []

    def local_flag(self) -> bool:
        """Whether a loss term was non-finite on this rank."""
        return any('loss' in name for name in self._bad)

    def before_train(self, runner: Runner) -> None:
        """Under ``AmpOptimWrapper``, allow ``amp_max_consecutive``."""
        wrappers = getattr(runner.optim_wrapper, 'values', None)
        wrappers = list(wrappers()) if wrappers else [runner.optim_wrapper]
        amp = any(isinstance(w, AmpOptimWrapper) for w in wrappers)
        if amp and self.amp_max_consecutive > self.max_consecutive:
            runner.logger.info(
                f'{type(self).__name__}: AmpOptimWrapper skips the update of '
                'an iteration whose loss or gradients overflow; allowing '
                f'{self.amp_max_consecutive} non-finite losses in a row '
                f'(max_consecutive {self.max_consecutive} -> '
                f'{self.amp_max_consecutive})')
            self.max_consecutive = self.amp_max_consecutive

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
        self._bad = bad
        if self._agreed_at == runner.iter:  # agreed before this flag was set
            agreed = _any_rank([self.local_flag()])[0]
        else:
            agreed = self._agree(runner)
        if not agreed:
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
class PreemptionCheckpointHook(RankAgreement, Hook):
    """Save a resumable checkpoint and stop when the job is pre-empted.

    From ``before_train`` to ``after_train`` the listed signals only set a
    flag (the default action, termination, is replaced). At the end of every
    training iteration (a signal during validation is acted on after the
    next one) the ranks agree whether any of them got a signal (the one
    ``all_reduce`` per iteration of :class:`RankAgreement`, shared with
    :class:`NonFiniteLossHook`); if so, rank 0 writes ``iter_<n>.pth``
    (``n`` = iterations done) with the checkpoint hook's backend
    (``atomic_local``: temp file + rename), points
    ``work_dir/last_checkpoint`` at it, every rank waits for the write
    (barrier) and training stops (``stop_training``).
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

    def local_flag(self) -> bool:
        """Whether this rank got one of the signals (while active)."""
        return self._active and self.received is not None

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
        if not self._active or not self._agree(runner):
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
