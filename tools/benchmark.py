"""Put pose models side by side: accuracy against cost, one machine, one run.

    python tools/benchmark.py MODEL [MODEL ...]
        [--checkpoints CKPT|none ...] [--variants eager onnx int8 bf16]
        [--mmpose-variants eager] [--device cpu|cuda] [--threads N]
        [--batch-sizes 1 32] [--repeats 10] [--repeats-large 3] [--warmup 2]
        [--gemm-size 4096] [--worker-budget 600] [--allow-emulation]
        [--int8-keep-fp32 K]
        [--data-root DIR] [--calib-data data/] [--eval-batch-size 8]
        [--no-agreement] [--work-dir work_dirs/benchmark]
        [--out-json F.json] [--out-md F.md] [--out-png F.png]
    python tools/benchmark.py MODEL --pipeline [--variants ...] [--images D]
    python tools/benchmark.py MODEL [MODEL ...] --training [--train-batch 4]
        [--train-variants fp32 channels_last amp amp+channels_last]

MODEL is a config path (ours: configs that load ``hourglass_plugin`` through
``custom_imports``; any other config counts as mmpose's) or an mmpose
model-zoo NAME (``td-hm_hourglass52_8xb64-210e_mpii-256x256``) looked up in
the installed mmpose's model index. A checkpoint is given as ``MODEL::CKPT``
or by ``--checkpoints`` (one per MODEL, in order; ``none`` = random
weights). ``--variants`` apply to our models, ``--mmpose-variants`` to
mmpose's: any ``hourglass_plugin.deploy`` backend.

The measuring, evaluation and reporting live in ``hourglass_plugin.benchmark``
(figures and JSON fields: see ``suite``, ``measure``, ``report``,
``machine``; the pipeline and training modes: ``pipeline``, ``training``).
A variant the device cannot run natively (bf16/fp16 without the CPU
instructions, CUDA without a GPU) is reported as ``skipped: reason``; each
variant's worker is stopped after ``--worker-budget`` seconds.
"""
import argparse
import json
import os
import os.path as osp
from typing import List

from hourglass_plugin.benchmark import (TRAIN_VARIANTS, baseline, markdown,
                                        model_specs, pipeline_markdown, plot,
                                        ratio_lines, run_benchmark,
                                        run_pipeline, run_training,
                                        training_markdown)
from hourglass_plugin.deploy import BACKENDS

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(
        description='Benchmark pose models: params, MACs, latency, '
        'throughput, memory, keypoint agreement, PCKh; the top-down '
        'pipeline; training throughput')
    p.add_argument(
        'models',
        nargs='+',
        metavar='MODEL',
        help='config path or mmpose model-zoo NAME, '
        'optionally MODEL::CHECKPOINT')
    p.add_argument(
        '--checkpoints',
        nargs='+',
        help='one checkpoint per model (or "none")')
    for flag, default, whose in (('--variants', [
            'eager', 'onnx', 'int8', 'bf16'
    ], 'our models'), ('--mmpose-variants', ['eager'], "mmpose's models")):
        p.add_argument(
            flag,
            nargs='+',
            default=default,
            choices=BACKENDS,
            metavar='VARIANT',
            help=f'for {whose}; any of {", ".join(BACKENDS)}')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument(
        '--threads',
        type=int,
        default=os.cpu_count(),
        help='PyTorch / ONNX Runtime threads')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    p.add_argument(
        '--repeats',
        type=int,
        default=10,
        help='timed runs at batch sizes < 8')
    p.add_argument(
        '--repeats-large',
        type=int,
        default=3,
        help='timed runs at batch sizes >= 8')
    p.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='untimed runs first (1 at batch sizes >= 8)')
    p.add_argument(
        '--gemm-size',
        type=int,
        default=4096,
        help='matrix side of the fp32 GEMM measurement')
    p.add_argument(
        '--worker-budget',
        type=float,
        default=600,
        help='seconds after which a variant\'s worker is stopped')
    p.add_argument(
        '--allow-emulation',
        action='store_true',
        help='run bf16/fp16 on CPUs without those instructions')
    p.add_argument(
        '--int8-keep-fp32',
        type=int,
        default=0,
        metavar='K',
        help='int8 leaves the K convolutions it rounds at the highest cost '
        'in fp32 (ranked on the calibration crops: one calibration per '
        'convolution, minutes; see tools/int8_sensitivity.py)')
    p.add_argument('--data-root', help='dataset root for PCKh')
    p.add_argument(
        '--calib-data',
        default=osp.join(REPO_ROOT, 'data'),
        help='data root of the real crops for int8 calibration, '
        'the agreement check and --pipeline (default: data/)')
    p.add_argument('--eval-batch-size', type=int, default=8)
    p.add_argument(
        '--no-agreement',
        action='store_true',
        help='skip the keypoint agreement check')
    p.add_argument(
        '--work-dir',
        default=osp.join(REPO_ROOT, 'work_dirs', 'benchmark'),
        help='exported ONNX files and worker files')
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        '--pipeline',
        action='store_true',
        help='time the top-down demo\'s work per variant on '
        'the multi-person images of --calib-data')
    mode.add_argument(
        '--training',
        action='store_true',
        help='training-step and data-pipeline images/s')
    p.add_argument('--train-batch', type=int, default=4)
    p.add_argument(
        '--train-variants',
        nargs='+',
        default=['fp32'],
        choices=TRAIN_VARIANTS,
        metavar='VARIANT',
        help=f'--training: any of {", ".join(TRAIN_VARIANTS)} (amp: CUDA '
        'only, else reported as skipped)')
    p.add_argument(
        '--train-steps',
        type=int,
        default=2,
        help='timed training steps (after one untimed)')
    p.add_argument('--out-json')
    p.add_argument('--out-md')
    p.add_argument('--out-png')
    args = p.parse_args(argv)
    if any(b < 1 for b in args.batch_sizes):
        p.error('--batch-sizes must be >= 1')
    if args.int8_keep_fp32 < 0:
        p.error('--int8-keep-fp32 must be >= 0')
    return args


def main(argv=None) -> List[dict]:
    """Run the benchmark (or the pipeline / training mode); return the
    records and write the outputs asked for."""
    args = parse_args(argv)
    specs = model_specs(args.models, args.checkpoints, args.variants,
                        args.mmpose_variants)
    lines = []
    if args.pipeline:
        records = run_pipeline(specs[0], args.variants, args.calib_data,
                               args.threads, args.device)
        table = pipeline_markdown(records)
    elif args.training:
        records = run_training(
            specs,
            args.calib_data,
            args.train_batch,
            args.train_steps,
            args.threads,
            args.device,
            variants=args.train_variants)
        table = training_markdown(records)
    else:
        records, meta = run_benchmark(
            specs, args.work_dir, args.calib_data, args.device, args.threads,
            args.batch_sizes, args.repeats, args.repeats_large, args.warmup,
            args.gemm_size, args.data_root, args.eval_batch_size,
            not args.no_agreement, args.worker_budget, args.allow_emulation,
            args.int8_keep_fp32)
        table = markdown(records, meta)
        lines = ratio_lines(records, baseline(records))
        if args.out_png:
            plot(records, args.out_png)
    print(table)
    print('\n'.join(lines))
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(table + '\n' + ''.join(f'- {line}\n' for line in lines))
    if args.out_json:
        os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump(records, f, indent=1)
    return records


if __name__ == '__main__':
    main()
