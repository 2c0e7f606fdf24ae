"""Put pose models side by side: accuracy against cost, one machine, one run.

    python tools/benchmark.py MODEL [MODEL ...] [options]
    python tools/benchmark.py MODEL [MODEL ...] --training [--train-batch 4]
    python tools/benchmark.py MODEL --pipeline [--variants ...]

MODEL: a config path or an mmpose model-zoo name, optionally
``MODEL::CHECKPOINT``. Every mode, column and JSON field: docs/benchmark.md.
Exit code 1 when a variant's worker failed (its row says ``FAILED``).
"""
import argparse
import json
import os
import os.path as osp
import sys
from glob import glob

import torch

from hourglass_plugin.apis import (CocoDetectionFile,
                                   HourglassTopdownInferencer,
                                   stage_timing_markdown, time_topdown_stages)
from hourglass_plugin.benchmark import (TRAIN_VARIANTS, baseline,
                                        describe_machine, markdown,
                                        model_specs, plot, ratio_lines,
                                        run_benchmark, run_training,
                                        training_markdown, write_results)
from hourglass_plugin.deploy import BACKENDS
from hourglass_plugin.engine.cli import add_debug_arg, run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(ROOT, 'data')
#: options of one mode only (the others refuse them)
ONLY = dict(
    inference=('mmpose_variants', 'batch_sizes', 'repeats', 'repeats_large',
               'warmup', 'gemm_size', 'worker_budget', 'allow_emulation',
               'eval_batch_size', 'no_agreement', 'out_png'),
    training=('train_batch', 'train_variants', 'train_steps'))
NOT_IN = dict(
    training=('calib_data', 'variants', 'checkpoints', 'work_dir', 'pipeline'),
    pipeline=('data_root', 'work_dir'))


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line; options a mode does not use are refused."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add = p.add_argument
    add('models', nargs='+', metavar='MODEL')
    add('--checkpoints', nargs='+', help='one per MODEL ("none": random)')
    for flag, default in (('--variants', ['eager', 'onnx', 'int8', 'bf16']),
                          ('--mmpose-variants', ['eager'])):
        add(flag, nargs='+', choices=BACKENDS, metavar='V', default=default)
    add('--device', default='cpu', help='cpu or cuda[:i]')
    add('--threads', type=int, default=len(os.sched_getaffinity(0)))
    add('--batch-sizes', type=int, nargs='+', default=[1, 32])
    add('--repeats', type=int, default=10, help='timed runs at batch < 8')
    add('--repeats-large', type=int, default=3, help='at batch >= 8')
    add('--warmup', type=int, default=2, help='untimed runs (1 at >= 8)')
    add('--gemm-size', type=int, default=4096)
    add('--worker-budget', type=float, default=600, help='seconds')
    add('--allow-emulation', action='store_true')
    add('--data-root', help='PCKh data (--training: training data, data/)')
    add('--calib-data', help='int8 calibration, agreement crops (data/)')
    add('--eval-batch-size', type=int, default=8)
    add('--no-agreement', action='store_true')
    add('--work-dir', default=osp.join(ROOT, 'work_dirs', 'benchmark'))
    add('--training', action='store_true')
    add('--pipeline', action='store_true', help='stages of the top-down job')
    add('--train-batch', type=int, default=4)
    add('--train-variants',
        nargs='+',
        choices=TRAIN_VARIANTS,
        metavar='V',
        default=['fp32'])
    add('--train-steps', type=int, default=2)
    for out in ('--out-json', '--out-md', '--out-dir', '--out-png'):
        add(out)
    add_debug_arg(p)
    args = p.parse_args(argv)
    args.mode = 'training' if args.training else (
        'pipeline' if args.pipeline else 'inference')
    given = {
        a.dest
        for a in p._actions if getattr(args, a.dest, a.default) != a.default
    }
    refused = set(NOT_IN.get(
        args.mode,
        ())).union(*(v for k, v in ONLY.items() if k != args.mode)) & given
    if refused:
        p.error(f'--{sorted(refused)[0].replace("_", "-")} does not apply '
                f'to the {args.mode} mode')
    if args.pipeline and len(args.models) > 1:
        p.error(f'--pipeline times one MODEL, got {len(args.models)}')
    if min(args.batch_sizes) < 1:
        p.error('--batch-sizes must be >= 1')
    return args


def pipeline(spec: dict, args: argparse.Namespace) -> list:
    """Time the top-down job per variant on ``<calib-data>/coco_multi``
    with its detection file (2 timed passes)."""
    data = args.calib_data or DATA
    coco = osp.join(data, 'coco_multi')
    source = CocoDetectionFile(*(osp.join(coco, f'test_coco{name}.json')
                                 for name in ('_det_AP_H_56', '')))
    images = sorted(glob(osp.join(coco, '*.jpg')))
    torch.set_num_threads(args.threads)
    kwargs = dict(device=args.device, threads=args.threads, calib_data=data)
    records = []
    for variant in args.variants:
        inferencer = HourglassTopdownInferencer(
            spec['config'], spec['checkpoint'], backend=variant, **kwargs)
        records.append(
            time_topdown_stages(inferencer, images, source, 2, spec['name']))
    return records


def main(argv=None) -> int:
    """Run the mode asked for, print and write its outputs; 1 when a
    variant failed."""
    args = parse_args(argv)
    specs = model_specs(args.models, args.checkpoints, args.variants,
                        args.mmpose_variants)
    meta, lines = {}, []
    if args.training:
        records = run_training(
            specs,
            args.data_root or DATA,
            args.train_batch,
            args.train_steps,
            args.threads,
            args.device,
            variants=args.train_variants)
        table = training_markdown(records)
    elif args.pipeline:
        records = pipeline(specs[0], args)
        table = stage_timing_markdown(records)
    else:
        records, meta = run_benchmark(
            specs, args.work_dir, args.calib_data or DATA, args.device,
            args.threads, args.batch_sizes, args.repeats, args.repeats_large,
            args.warmup, args.gemm_size, args.data_root, args.eval_batch_size,
            not args.no_agreement, args.worker_budget, args.allow_emulation)
        table = markdown(records, meta)
        lines = ratio_lines(records, baseline(records))
        if args.out_png:
            plot(records, args.out_png)
    text = table + '\n' + ''.join(f'- {line}\n' for line in lines)
    print(text)
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(text)
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(records, f, indent=1)
    if args.out_dir:
        command = ['python', 'tools/benchmark.py', *(argv or sys.argv[1:])]
        write_results(args.out_dir, args.mode, records, meta
                      or describe_machine(args.device), text, command)
    return int(any(r.get('failed') for r in records))


if __name__ == '__main__':
    run_tool(main)
