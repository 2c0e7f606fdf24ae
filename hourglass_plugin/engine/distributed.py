"""Distributed training on CPU (gloo) with mmengine 0.10.x.

mmengine 0.10.7 assumes CUDA whenever it runs distributed
(``docs/install.md``):

* ``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device``
  unconditionally;
* ``env_cfg.dist_cfg.backend`` defaults to ``nccl``;
* ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, which a CPU
  module rejects.

:func:`setup_cpu_distributed` initialises the gloo process group itself (the
Runner then skips its own ``init_dist``) and selects
:class:`CPUDistributedDataParallel`. On machines with CUDA nothing changes:
NCCL and mmengine's own wrapper are used.
"""
import os
from typing import Any

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps modules living on CPU.

    torch's ``DistributedDataParallel`` requires ``device_ids=None`` for CPU
    modules, while mmengine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``. This wrapper drops ``device_ids`` (and
    ``output_device``) when the module's parameters are on CPU and is otherwise
    identical to mmengine's wrapper, so the same config runs on GPUs.

    Args:
        module (torch.nn.Module): The model, e.g. a ``TopdownPoseEstimator``.
        **kwargs: Passed to ``MMDistributedDataParallel``
            (``find_unused_parameters``, ``broadcast_buffers``, ...).
    """

    def __init__(self, module: torch.nn.Module, **kwargs: Any) -> None:
        first_param = next(module.parameters(), None)
        if first_param is not None and first_param.device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module=module, **kwargs)


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` and the process group for distributed CPU training.

    Does nothing (returns ``False``) when ``launcher == 'none'`` or CUDA is
    available. Otherwise it sets ``env_cfg.dist_cfg.backend='gloo'``, selects
    :class:`CPUDistributedDataParallel` as ``model_wrapper_cfg`` (keeping any
    options the config already gives it, e.g. ``find_unused_parameters``) and
    initialises the gloo process group from torchrun's environment variables
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``).

    Args:
        cfg (Config): The training/testing config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: Whether CPU distributed mode was set up.

    Raises:
        RuntimeError: If ``launcher='pytorch'`` but torchrun's environment
            variables are missing (the script was not started by torchrun).
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    missing = [
        k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
        if k not in os.environ
    ]
    if launcher == 'pytorch' and missing:
        raise RuntimeError(
            f'--launcher pytorch needs the torchrun environment; missing '
            f'{missing}. Start it with tools/dist_train.sh or torchrun.')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_cfg['type'] = 'CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper_cfg
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
    return True
