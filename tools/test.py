"""Evaluate a checkpoint with mmengine's Runner (mmpose's ``tools/test.py``
options).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--out metrics.json] [--pred-mat pred.mat] [--dump preds.pkl]
        [--show-dir DIR] [--debug]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Prints the PCKh table (per joint group, Mean, Mean@0.1). ``--pred-mat`` writes
the predictions as HRNet's ``pred.mat`` (key ``preds``, (N, 16, 2), 1-based
MATLAB pixels, annotation-file order), which ``tools/eval_mpii.py`` re-scores.
``--cfg-options`` is applied last (it wins over the dedicated options).

A checkpoint that is not one or does not fit the config's model, a malformed
dataset, a launcher's missing environment or a full disk end with one line,
``error: <what> (<file>)``, exit code 1 (the traceback with ``--debug``).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import mmengine
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from hourglass_plugin.engine import cli, distributed  # noqa: E402
from hourglass_plugin.engine.runner import CheckpointCheckedRunner  # noqa


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (mmpose/mmengine's test options)."""
    parser = argparse.ArgumentParser(description='Evaluate a pose model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='save the metrics to this json file')
    parser.add_argument(
        '--pred-mat',
        help='save predictions as HRNet pred.mat (1-based) for eval_mpii.py')
    parser.add_argument('--dump', help='dump raw predictions to a .pkl file')
    cli.add_runner_args(parser)
    cli.add_debug_arg(parser)
    args = cli.parse_runner_args(parser, argv)
    if args.pred_mat is not None and not args.pred_mat.endswith('.mat'):
        parser.error(f'--pred-mat must end in .mat: {args.pred_mat}')
    if args.dump is not None and not args.dump.endswith(('.pkl', '.pickle')):
        parser.error(f'--dump must be a .pkl file: {args.dump}')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply command-line options to ``cfg``, ``--cfg-options`` last."""
    cli.apply_runner_args(cfg, args)
    cfg.load_from = args.checkpoint
    if args.pred_mat is not None:
        cfg.test_evaluator.pred_mat_file = osp.abspath(args.pred_mat)
    if args.dump is not None:
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = [*evaluators, dump_metric]
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


class SaveMetricsHook(Hook):
    """Write the test metrics to a json file after the test epoch."""

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file

    def after_test_epoch(self,
                         runner: Runner,
                         metrics: Optional[dict] = None) -> None:
        """Dump ``metrics`` (rank 0 only)."""
        if metrics is not None and runner.rank == 0:
            mmengine.dump(metrics, self.out_file, indent=2)


def main(argv: Optional[List[str]] = None) -> dict:
    """Build the Runner from the config, load the checkpoint (strictly:
    :class:`CheckpointCheckedRunner`) and test.

    Returns:
        dict: The metrics, e.g. ``{'PCK': 88.9, 'PCK@0.1': 31.7, ...}``.

    Raises:
        CheckpointError: The checkpoint is not one or does not fit.
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    distributed.setup_cpu_distributed(cfg, args.launcher)
    runner = CheckpointCheckedRunner.from_cfg(cfg)
    if args.out:
        runner.register_hook(SaveMetricsHook(args.out), 'LOWEST')
    return runner.test()


if __name__ == '__main__':
    cli.run_tool(main)
