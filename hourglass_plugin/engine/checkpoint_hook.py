"""A ``CheckpointHook`` whose removals wait until the new file is written.

mmengine 0.10.7's ``CheckpointHook`` removes the previous best checkpoint
before it saves the new one, and the oldest epoch checkpoint before it
saves the next; ``last_checkpoint`` is rewritten in place. A save that fails
(full disk, ``OSError`` errno 28) then leaves no best checkpoint, a best
score in memory that no file on disk has, or, with ``max_keep_ckpts=1``, no
checkpoint at all. :class:`SafeCheckpointHook` keeps mmengine's logic and
file names, and changes only the order: every removal happens after the new
checkpoint (and the re-saved latest checkpoint that records the new best
score) is written; when a save fails, the files it wrote are removed and the
best-checkpoint bookkeeping (``best_score`` / ``best_ckpt`` in the message
hub) and ``last_checkpoint`` are put back, so the last good checkpoint on
disk, the best checkpoint on disk and the best score a resumed run reads
agree.
"""
import os.path as osp
from collections import deque
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS
from mmengine.runner import Runner


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments, files and log lines),
    with removals after successful saves and a failed save undone (see the
    module docstring). ``tools/train.py`` selects it for configs using
    ``CheckpointHook`` (:func:`use_safe_checkpoint_hook`).

    Raises:
        OSError: (during training) a save failed, e.g. ``errno.ENOSPC``;
            the state on disk is that before the save.
    """

    def _best_keys(self) -> List[str]:
        """The message-hub keys of the best-checkpoint bookkeeping."""
        if len(self.key_indicators) == 1:
            return ['best_score', 'best_ckpt']
        return [
            f'{name}_{key}' for key in self.key_indicators
            for name in ('best_score', 'best_ckpt')
        ]

    def _best_paths(self) -> Dict[str, Optional[str]]:
        """Indicator -> current best checkpoint path (or None)."""
        if len(self.key_indicators) == 1:
            return {self.key_indicators[0]: self.best_ckpt_path}
        return dict(self.best_ckpt_path_dict)

    def _set_best_paths(self, paths: Dict[str, Optional[str]]) -> None:
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = paths[self.key_indicators[0]]
        else:
            self.best_ckpt_path_dict.update(paths)

    def _remove(self, runner: Runner, path: Optional[str]) -> None:
        """Remove a checkpoint file (main process only)."""
        if path and is_main_process() and self.file_backend.isfile(path):
            self.file_backend.remove(path)
            runner.logger.info(f'The previous best checkpoint {path} is '
                               'removed')

    def _save_best_checkpoint(self, runner: Runner, metrics: dict) -> None:
        """mmengine's best-checkpoint save, the previous best removed only
        after the new best and the re-saved latest checkpoint exist."""
        if not self.save_best:
            return
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])
        hub = runner.message_hub
        before = {
            key: hub.runtime_info[key]
            for key in self._best_keys() if key in hub.runtime_info
        }
        old = self._best_paths()
        self._set_best_paths({key: None for key in old})  # no removal inside
        try:
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            for key, path in self._best_paths().items():
                if path and is_main_process() and \
                        self.file_backend.isfile(path):
                    self.file_backend.remove(path)
            for key in self._best_keys():
                if key in before:
                    hub.update_info(key, before[key])
                else:
                    hub.runtime_info.pop(key, None)
            self._set_best_paths(old)
            raise
        new = self._best_paths()
        for key, path in new.items():
            if path is None:
                new[key] = old[key]
            elif old[key] and old[key] != path:
                self._remove(runner, old[key])
        self._set_best_paths(new)

    def _save_checkpoint_with_step(self, runner: Runner, step: int,
                                   meta: dict) -> None:
        """mmengine's save, the oldest checkpoint removed after the new one
        is written; on failure ``last_checkpoint`` is restored."""
        keep = self.max_keep_ckpts
        marker = osp.join(runner.work_dir, 'last_checkpoint')
        previous = None
        if is_main_process() and osp.isfile(marker):
            with open(marker) as f:
                previous = f.read()
        if keep > 0:  # one more while saving: nothing is removed inside
            self.max_keep_ckpts = keep + 1
            self.keep_ckpt_ids = deque(self.keep_ckpt_ids, keep + 1)
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        except BaseException:
            if previous is not None:
                with open(marker, 'w') as f:
                    f.write(previous)
            raise
        finally:
            self.max_keep_ckpts = keep
        if keep > 0:
            while len(self.keep_ckpt_ids) > keep:
                oldest = self.keep_ckpt_ids.popleft()
                path = self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(oldest))
                if is_main_process() and self.file_backend.isfile(path):
                    self.file_backend.remove(path)
            self.keep_ckpt_ids = deque(self.keep_ckpt_ids, keep)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))


def use_safe_checkpoint_hook(cfg: Config) -> None:
    """Make ``default_hooks.checkpoint`` of type ``CheckpointHook`` a
    :class:`SafeCheckpointHook` (in place; other types are left alone)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook and hook.get('type') in ('CheckpointHook', CheckpointHook):
        hook['type'] = 'SafeCheckpointHook'
