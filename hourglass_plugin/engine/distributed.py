"""Distributed training on CPU (gloo) with mmengine 0.10.x.

mmengine 0.10.7 assumes CUDA whenever it runs distributed
(``docs/install.md``):

* ``mmengine.dist.init_dist('pytorch')`` calls ``torch.cuda.set_device``
  unconditionally;
* ``env_cfg.dist_cfg.backend`` defaults to ``nccl``;
* ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, which a CPU
  module rejects.

:func:`setup_cpu_distributed` initialises the gloo process group itself from
the launcher's environment (torchrun, slurm's srun or Open MPI's mpirun; the
Runner then skips its own ``init_dist``) and selects
:class:`CPUDistributedDataParallel`. On machines with CUDA nothing changes:
NCCL and mmengine's own wrapper are used.
"""
import os
import subprocess
from typing import Any, Dict

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from .errors import LaunchError


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps modules living on CPU.

    torch's ``DistributedDataParallel`` requires ``device_ids=None`` for CPU
    modules, while mmengine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``. This wrapper drops ``device_ids`` (and
    ``output_device``) when the module's parameters are on CPU and is otherwise
    identical to mmengine's wrapper, so the same config runs on GPUs.

    Buffers are not broadcast from rank 0 before each forward pass
    (``broadcast_buffers=False`` unless given), as in mmengine's GPU path
    (``Runner.wrap_model`` without ``model_wrapper_cfg``): each rank's
    batch-norm running statistics follow its own batches and
    ``SyncBuffersHook`` averages them at every epoch end, on CPU and GPU
    alike.

    Args:
        module (torch.nn.Module): The model, e.g. a ``TopdownPoseEstimator``.
        **kwargs: Passed to ``MMDistributedDataParallel``
            (``find_unused_parameters``, ``broadcast_buffers``, ...).
    """

    def __init__(self, module: torch.nn.Module, **kwargs: Any) -> None:
        kwargs.setdefault('broadcast_buffers', False)
        first_param = next(module.parameters(), None)
        if first_param is not None and first_param.device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module=module, **kwargs)


#: Where each launcher puts rank, world size, local rank and the master's
#: address and port (``None``: not given by that launcher).
LAUNCHER_ENV = {
    'pytorch':
    dict(
        RANK='RANK',
        WORLD_SIZE='WORLD_SIZE',
        LOCAL_RANK='LOCAL_RANK',
        MASTER_ADDR='MASTER_ADDR',
        MASTER_PORT='MASTER_PORT'),
    'slurm':
    dict(
        RANK='SLURM_PROCID',
        WORLD_SIZE='SLURM_NTASKS',
        LOCAL_RANK='SLURM_LOCALID',
        MASTER_ADDR=None,
        MASTER_PORT=None),
    'mpi':
    dict(
        RANK='OMPI_COMM_WORLD_RANK',
        WORLD_SIZE='OMPI_COMM_WORLD_SIZE',
        LOCAL_RANK='OMPI_COMM_WORLD_LOCAL_RANK',
        MASTER_ADDR='MASTER_ADDR',
        MASTER_PORT=None),
}


def _slurm_master_addr() -> str:
    """The first host of ``SLURM_NODELIST`` (``scontrol show hostnames``,
    as mmengine's slurm set-up)."""
    return subprocess.getoutput(
        f'scontrol show hostnames {os.environ["SLURM_NODELIST"]} | head -n1'
    ).strip()


def launcher_env(launcher: str) -> Dict[str, str]:
    """torch's ``env://`` variables from a launcher's environment.

    Args:
        launcher (str): ``'pytorch'`` (torchrun), ``'slurm'`` (srun) or
            ``'mpi'`` (Open MPI's mpirun).

    Returns:
        dict: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
        ``MASTER_PORT``: an already set ``MASTER_ADDR``/``MASTER_PORT``
        wins; slurm's master is the first host of ``SLURM_NODELIST``;
        the port defaults to 29500 (mmengine's default).

    Raises:
        LaunchError: A variable the launcher should have set is missing
            (the script was not started by that launcher); one line naming
            them.
    """
    names = LAUNCHER_ENV[launcher]
    required = [v for v in names.values() if v is not None]
    if launcher == 'slurm':
        required.append('SLURM_NODELIST')
    missing = [v for v in required if v not in os.environ]
    if missing:
        how = dict(
            pytorch='tools/dist_train.sh or torchrun',
            slurm='tools/slurm_train.sh or srun',
            mpi='mpirun (with MASTER_ADDR exported)')[launcher]
        raise LaunchError(f'--launcher {launcher} needs the environment of '
                          f'{how}; missing {", ".join(missing)}')
    env = {key: os.environ[var] for key, var in names.items() if var}
    if 'MASTER_ADDR' not in env:
        env['MASTER_ADDR'] = os.environ.get('MASTER_ADDR') or \
            _slurm_master_addr()
    env['MASTER_PORT'] = os.environ.get('MASTER_PORT', '29500')
    return env


def launcher_rank(launcher: str) -> int:
    """This process's global rank as the launcher set it (0 without a
    launcher or when the variable is missing)."""
    if launcher == 'none':
        return 0
    return int(os.environ.get(LAUNCHER_ENV[launcher]['RANK'], 0))


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` and the process group for distributed CPU training.

    Does nothing (returns ``False``) when ``launcher == 'none'`` or CUDA is
    available (mmengine's ``init_dist`` then does it, with NCCL). Otherwise
    it sets ``env_cfg.dist_cfg.backend='gloo'``, selects
    :class:`CPUDistributedDataParallel` as ``model_wrapper_cfg`` (keeping any
    options the config already gives it, e.g. ``find_unused_parameters``) and
    initialises the gloo process group from the launcher's environment
    (:func:`launcher_env`; mmengine's slurm and mpi set-ups call
    ``torch.cuda.set_device`` and cannot run without a GPU).

    Args:
        cfg (Config): The training/testing config; modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: Whether CPU distributed mode was set up.

    Raises:
        LaunchError: The launcher's environment variables are missing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env = launcher_env(launcher)
    os.environ.update(env)
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_cfg['type'] = 'CPUDistributedDataParallel'
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(env['RANK']),
            world_size=int(env['WORLD_SIZE']))
    return True
