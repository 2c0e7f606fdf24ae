"""Train a pose model with mmengine's Runner (mmpose's train.py options).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|CKPT]]
        [--amp] [--auto-scale-lr] [--show-dir DIR] [--tensorboard]
        [--no-validate] [--vis-train-batch N] [--debug]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Multi-GPU / multi-node: ``tools/dist_train.sh CONFIG N`` (torchrun). Without a
GPU, distributed runs use gloo and a CPU DDP wrapper
(:func:`hourglass_plugin.engine.setup_cpu_distributed`).

Faults end the run with one line, ``error: <message>`` (exit code 1; the
traceback only with ``--debug``): a non-finite loss (iteration and loss
terms named, no checkpoint written after it), an unloadable training image
(annotation file, record and image named), too many skipped samples, a
malformed dataset, a checkpoint that is not one or does not fit the model
(``load_from``, ``--resume``; refused before anything is restored), a full
disk (the path named; the last good checkpoint and the best score kept),
``--amp`` without CUDA, a launcher's missing environment, a work dir another
training holds (``<work_dir>/train.lock``). On SIGTERM/SIGUSR1 the run saves
``iter_<n>.pth`` and exits with code 0; ``--resume auto`` continues from it,
mid-epoch. ``--cfg-options`` is applied last (as in mmpose): it wins over
the dedicated flags, except that ``--no-validate`` always removes
validation.
"""
import argparse
import contextlib
import os.path as osp
import sys
from typing import List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from hourglass_plugin import engine  # noqa: E402
from hourglass_plugin.engine import cli, distributed  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (mmpose/mmengine's train options)."""
    parser = argparse.ArgumentParser(description='Train a pose model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or (no value / "auto") from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (CUDA only)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by actual / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--vis-train-batch',
        type=int,
        metavar='N',
        help='every N iterations save GT/prediction/heatmap images of a '
        'training batch (work_dir/<time>/vis_data/vis_image/)')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log to TensorBoard (work_dir/vis_data)')
    cli.add_runner_args(parser)
    cli.add_debug_arg(parser)
    return cli.parse_runner_args(parser, argv)


def no_validate(cfg: Config) -> None:
    """Remove validation from ``cfg`` (``--no-validate``; in place)."""
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply command-line options to ``cfg`` (as mmpose's train.py does).

    ``--cfg-options`` is merged last, so it wins over the dedicated flags,
    except ``--no-validate``, applied after it, so that options setting the
    val data root neither fail nor bring validation back.

    Raises:
        DeviceError: ``--amp`` without a CUDA GPU (mmengine's
            ``AmpOptimWrapper`` needs one).
    """
    cli.apply_runner_args(cfg, args)
    if args.amp:
        if not torch.cuda.is_available():
            raise engine.DeviceError(
                '--amp needs a CUDA GPU (mmengine '
                'AmpOptimWrapper), but torch sees none; train '
                'in fp32 without --amp')
        cli.use_amp(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.vis_train_batch is not None:
        for hook in cfg.custom_hooks:
            if hook.type == 'TrainBatchVisualizationHook':
                hook.update(enable=True, interval=args.vis_train_batch)
    if args.tensorboard:
        cfg.visualizer.vis_backends = [
            *cfg.visualizer.vis_backends,
            dict(type='TensorboardVisBackend')
        ]
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.no_validate:
        no_validate(cfg)
    engine.use_resumable_train_loop(cfg)
    engine.use_safe_checkpoint_hook(cfg)
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    """Build the Runner from the config and train.

    The launcher's rank 0 holds ``<work_dir>/train.lock`` from before the
    Runner is built until the end
    (:class:`~hourglass_plugin.engine.WorkDirLock`).

    Raises:
        Exception: The errors :func:`hourglass_plugin.engine.cli.run_tool`
            reports in one line (also written to the run's log once the
            Runner exists), or any other.
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    distributed.setup_cpu_distributed(cfg, args.launcher)
    rank = distributed.launcher_rank(args.launcher)
    lock = engine.WorkDirLock(
        cfg.work_dir) if rank == 0 else contextlib.nullcontext()
    try:
        with lock:
            runner = engine.CheckpointCheckedRunner.from_cfg(cfg)
            try:
                runner.train()
            except Exception as err:
                if cli.is_one_line_error(err):
                    runner.logger.error(f'error: {cli.error_line(err)}')
                raise
    finally:
        # an undestroyed gloo group can abort the interpreter at exit
        # ("terminate called without an active exception")
        if torch_dist.is_available() and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


if __name__ == '__main__':
    cli.run_tool(main)
