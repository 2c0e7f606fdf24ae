"""Rank a network's convolutions by their int8 cost; write mixed-precision
int8 models that keep the most sensitive ones in fp32.

    python tools/int8_sensitivity.py CONFIG CHECKPOINT
        [--keep-fp32 0 8 16] [--calib-data data/] [--limit N] [--top 15]
        [--threads N] [--work-dir work_dirs/int8_sensitivity]
        [--out-json F.json]

Quantises the network with one convolution at a time in int8
(``hourglass_plugin.deploy.int8_sensitivity``; calibrated and ranked on the
detector boxes of ``--calib-data``'s COCO images with mirrors), prints the
``--top`` most sensitive, then
for each K of ``--keep-fp32`` writes ``WORK_DIR/int8_fp32top{K}.onnx`` (the
K most sensitive convolutions in fp32) and prints the share of decoded joints
within 1 heatmap px of fp32 on the ground-truth people (MPII, COCO, with
mirrors; crops the ranking never saw) per crop source and overall, beside
the fp32 network's own floor under +-1 grey level of input noise, and the
share of the network's MACs left in int8. Time the choice beside other
models with ``tools/benchmark.py --int8-keep-fp32 K`` or use a written file
with ``--onnx-file`` in the demo.
``--limit N`` ranks only the first N convolutions (graph order; a quick look).
"""
import argparse
import json
import os
import os.path as osp

import torch

from hourglass_plugin.deploy import (OrtHeatmapRunner, calibration_crops,
                                     conv_node_names, crop_sources,
                                     dataset_crops, export_onnx,
                                     input_noise_floor, int8_sensitivity,
                                     keypoint_agreement, model_input_size,
                                     pooled_share, reference_heatmaps)
from hourglass_plugin.deploy.model_zoo import load_pose_model
from hourglass_plugin.deploy.quantization import int8_mac_share, quantize_int8
from hourglass_plugin.deploy.sensitivity import run_in_chunks

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
EVAL_SOURCES = ('mpii', 'coco_gt')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='config file or mmpose config name')
    p.add_argument('checkpoint', help='checkpoint .pth (trained weights)')
    p.add_argument('--keep-fp32', type=int, nargs='+', default=[0, 8, 16])
    p.add_argument(
        '--calib-data', default=osp.join(REPO_ROOT, 'data'), help='data root')
    p.add_argument('--limit', type=int, help='rank the first N convs only')
    p.add_argument('--top', type=int, default=15)
    p.add_argument('--threads', type=int, default=torch.get_num_threads())
    p.add_argument(
        '--work-dir',
        default=osp.join(REPO_ROOT, 'work_dirs', 'int8_sensitivity'))
    p.add_argument('--out-json', help='ranking and agreements as JSON')
    args = p.parse_args(argv)
    if min(args.keep_fp32) < 0 or (args.limit is not None and args.limit < 1):
        p.error('--keep-fp32 values must be >= 0 and --limit >= 1')
    return args


def main(argv=None) -> dict:
    """Rank, write and check the mixed-precision models; return the report
    (``ranking``, ``floor``, ``models``: per K the file and agreements)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    model = load_pose_model(args.config, args.checkpoint, device='cpu')
    fp32 = export_onnx(model, osp.join(args.work_dir, 'fp32.onnx'))
    calib = calibration_crops(model, args.calib_data)
    sources = crop_sources(args.calib_data)
    crops = {
        name: dataset_crops(model, sources[name], flip=True)
        for name in EVAL_SOURCES if name in sources
    }
    if not crops:
        raise FileNotFoundError(f'no MPII or COCO ground-truth people under '
                                f'{args.calib_data} to compare on')
    refs = {name: reference_heatmaps(model, c) for name, c in crops.items()}
    nodes = conv_node_names(fp32)[:args.limit]
    print(f'ranking {len(nodes)} convolutions (one calibration each) ...')
    ranking = int8_sensitivity(fp32, calib, calib, nodes, args.threads)
    print('most sensitive (heatmap change, relative L2, with that conv '
          'alone in int8):')
    for node, cost in ranking[:args.top]:
        print(f'  {cost:7.2%}  {node}')
    report = dict(
        ranking=ranking,
        floor={
            name: input_noise_floor(model, c)['share']
            for name, c in crops.items()
        },
        models={})
    print('floor (fp32, +-1 grey level of input noise): ' +
          ', '.join(f'{name} {share:.1%}'
                    for name, share in report['floor'].items()))
    for keep in args.keep_fp32:
        out = osp.join(args.work_dir, f'int8_fp32top{keep}.onnx')
        quantize_int8(
            fp32, out, calib, fp32_nodes=[n for n, _ in ranking[:keep]])
        runner = OrtHeatmapRunner(out, threads=args.threads)
        agreements = {
            name:
            keypoint_agreement(model, refs[name], run_in_chunks(runner, c),
                               model_input_size(model))
            for name, c in crops.items()
        }
        shares = {name: a['share'] for name, a in agreements.items()}
        shares['all'] = pooled_share(agreements.values())
        int8_macs = int8_mac_share(fp32, out)
        report['models'][keep] = dict(
            file=out, agreement=shares, int8_mac_share=int8_macs)
        print(f'{keep:3d} most sensitive convs in fp32 ({int8_macs:.0%} of '
              f'the MACs in int8) -> {out}: joints within 1 heatmap px of '
              'fp32: ' + ', '.join(f'{name} {s:.1%}'
                                   for name, s in shares.items()))
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == '__main__':
    main()
