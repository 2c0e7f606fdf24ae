"""The Runner the tools build: mmengine's, with strict checkpoint loading."""
from typing import Callable, Union

from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .checkpoint import fit_state_dict, read_checkpoint


@RUNNERS.register_module()
class CheckpointCheckedRunner(Runner):
    """mmengine's ``Runner`` whose ``load_checkpoint`` refuses a checkpoint
    that does not fit the model.

    mmengine loads ``load_from`` and ``--resume`` checkpoints non-strictly:
    a checkpoint of another architecture or width logs a long warning and
    leaves random weights (or, on resume, fails later inside the
    optimizer). Here the file is read by
    :func:`~hourglass_plugin.engine.checkpoint.read_checkpoint` and fitted
    by :func:`~hourglass_plugin.engine.checkpoint.fit_state_dict` (the same
    path as :func:`~hourglass_plugin.engine.load_model_checkpoint`). Since
    ``Runner.resume`` loads the model weights first, a misfit on resume
    stops the run before the epoch, message hub, optimizer or schedulers
    are restored. ``tools/train.py`` and ``tools/test.py`` build this
    Runner.
    """

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = True,
                        revise_keys: list = [(r'^module\.', '')]) -> dict:
        """Load ``filename`` into the model, strictly (the ``strict`` and
        ``revise_keys`` arguments of mmengine's method are ignored: keys
        must fit, a ``module.`` prefix is stripped).

        Returns:
            dict: The checkpoint.

        Raises:
            CheckpointError: Not a checkpoint, or it does not fit the model
                (one line naming the file, the config and the first keys).
        """
        checkpoint = read_checkpoint(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        fit_state_dict(model, checkpoint['state_dict'], filename,
                       getattr(self.cfg, 'filename', None))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
