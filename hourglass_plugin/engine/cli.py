"""Command-line options shared by ``tools/train.py`` and ``tools/test.py``.
(``use_amp`` also serves the benchmark's training mode.)

The options mmpose's and mmengine's tools share (``--work-dir``,
``--show-dir``, ``--interval``, ``--cfg-options``, ``--launcher``,
``--local-rank``), defined once, and how they go into the config.
"""
import argparse
import errno
import os
import os.path as osp
import sys
from typing import Any, Callable, List, NoReturn, Optional

from mmengine.config import Config, DictAction

from .errors import (CheckpointError, ConfigError, DatasetError, DeviceError,
                     InputError, LaunchError, TrainingFault,
                     WorkDirLockedError, fault_message)


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Add the options every Runner tool takes to ``parser``."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--show-dir', help='save pose visualizations of val/test images')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualize every N-th sample')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` and export ``LOCAL_RANK`` (torch.distributed's launch
    passes ``--local-rank``; torchrun sets the variable itself)."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def use_amp(optim_wrapper: dict) -> None:
    """Switch an ``optim_wrapper`` config to mixed precision (in place):
    mmengine's ``AmpOptimWrapper``, dynamic loss scaling unless the config
    sets ``loss_scale`` (what mmpose's ``tools/train.py --amp`` does). The
    wrapper runs on CUDA (or NPU/MLU) devices only."""
    optim_wrapper['type'] = 'AmpOptimWrapper'
    optim_wrapper.setdefault('loss_scale', 'dynamic')


def apply_runner_args(cfg: Config, args: argparse.Namespace) -> None:
    """Put launcher, work dir and ``--show-dir`` into ``cfg`` (in place).

    The work dir is, in this order: ``--work-dir``, the config's
    ``work_dir``, ``./work_dirs/<config name>`` (mmpose's rule).
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.show_dir is not None:
        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.out_dir = args.show_dir
        cfg.default_hooks.visualization.interval = args.interval


#: The errors a tool knows and reports in one line, ``error: <message>``:
#: training faults (non-finite loss, bad samples, dataset check), a file
#: that is not a checkpoint or does not fit the model, a malformed dataset,
#: config parts that do not fit together, a device or launcher this machine
#: lacks, a work dir in use, an unusable input or output path, a missing
#: file. Besides these, an ``OSError``
#: whose errno is in :data:`DISK_FULL_ERRNOS` (``No space left on device
#: (<path>)``).
ONE_LINE_ERRORS = (TrainingFault, CheckpointError, ConfigError, DatasetError,
                   DeviceError, InputError, LaunchError, WorkDirLockedError,
                   FileNotFoundError)

#: ``OSError`` errnos reported in one line: the disk or the quota is full.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def add_debug_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``: show the traceback of a fault instead of one line
    (also ``HOURGLASS_DEBUG=1`` in the environment)."""
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line')


def is_one_line_error(err: BaseException) -> bool:
    """Whether ``err`` is reported in one line (:data:`ONE_LINE_ERRORS`, or
    a full disk)."""
    return isinstance(err,
                      ONE_LINE_ERRORS) or (isinstance(err, OSError)
                                           and err.errno in DISK_FULL_ERRNOS)


def error_line(err: BaseException) -> str:
    """The one line for a known error (without ``error: ``): its message
    (:func:`~hourglass_plugin.engine.errors.fault_message`); for a full
    disk ``<strerror> (<path>)``."""
    if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
        return f'{err.strerror} ({err.filename})' if err.filename \
            else str(err.strerror)
    return fault_message(err)


def run_tool(main: Callable[[Optional[List[str]]], Any],
             argv: Optional[List[str]] = None) -> NoReturn:
    """Run a tool's ``main(argv)`` and exit with its return code (0 when
    it returns something other than an int, e.g. metrics); a known
    fault (:func:`is_one_line_error`) ends it with ``error: <message>`` on
    stderr and exit code 1, its traceback shown only with ``--debug`` or
    ``HOURGLASS_DEBUG=1``."""
    args = sys.argv[1:] if argv is None else argv
    debug = '--debug' in args or os.environ.get('HOURGLASS_DEBUG') == '1'
    try:
        code = main(argv)
    except Exception as err:
        if debug or not is_one_line_error(err):
            raise
        print(f'error: {error_line(err)}', file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
