"""Export a top-down heatmap model to ONNX and check it against PyTorch.

    python tools/export_onnx.py CONFIG CHECKPOINT|none --out FILE.onnx
        [--input-size W H] [--opset 17] [--int8 FILE_int8.onnx]
        [--int8-mode static|dynamic] [--calib-data data/] [--threads N]

The graph, the weights fingerprint it records and int8 calibration:
docs/deployment.md. After export the file runs in ONNX Runtime on 3 real
MPII crops of ``--calib-data`` (batch 1 and 3) and the largest heatmap
difference to eager PyTorch is printed; ``--int8`` prints the share of
decoded joints within 1 heatmap px of fp32.
"""
import argparse
import os.path as osp

import torch
import torch.nn.functional as F

from hourglass_plugin.deploy import (OrtHeatmapRunner, calibration_crops,
                                     crop_sources, dataset_crops, export_onnx,
                                     keypoint_agreement, model_input_size,
                                     quantize_int8, reference_heatmaps)
from hourglass_plugin.deploy.model_zoo import load_pose_model
from hourglass_plugin.engine.cli import add_debug_arg, run_tool

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')


def main(argv=None) -> dict:
    """Export, verify, optionally quantise; return the printed figures."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', help='.pth, or "none" (random weights)')
    p.add_argument('--out', required=True)
    p.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'))
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--int8', metavar='FILE')
    p.add_argument(
        '--int8-mode', choices=['static', 'dynamic'], default='static')
    p.add_argument('--calib-data', default=DATA)
    p.add_argument('--threads', type=int, default=torch.get_num_threads())
    add_debug_arg(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = load_pose_model(args.config, ckpt)
    sources = crop_sources(args.calib_data)
    if 'mpii' not in sources:
        raise FileNotFoundError(f'{args.calib_data}/annotations/'
                                'mpii_val.json is needed to verify the export')
    size = tuple(args.input_size or model_input_size(model))
    export_onnx(model, args.out, input_size=size, opset=args.opset)

    def at_size(crops):
        return F.interpolate(
            crops, size=size[::-1], mode='bilinear', align_corners=False)

    crops = at_size(dataset_crops(model, sources['mpii'], max_crops=3))
    ref = reference_heatmaps(model, crops)
    runner = OrtHeatmapRunner(args.out, threads=args.threads)
    single = torch.cat([runner(c[None]) for c in crops])
    report = dict(
        heatmap_peak=float(ref.abs().max()),
        max_abs_diff_b1=float((single - ref).abs().max()),
        max_abs_diff_b3=float((runner(crops) - ref).abs().max()))
    print(f'wrote {args.out} (input (N, 3, {size[1]}, {size[0]}), opset '
          f'{args.opset}); ONNX Runtime vs eager PyTorch on {len(crops)} real '
          f'crops: max abs heatmap diff {report["max_abs_diff_b1"]:.2e} '
          f'(batch 1), {report["max_abs_diff_b3"]:.2e} (batch {len(crops)}); '
          f'heatmap peak {report["heatmap_peak"]:.3g}')
    if args.int8:
        calib = None if args.int8_mode == 'dynamic' else at_size(
            calibration_crops(model, args.calib_data))
        quantize_int8(args.out, args.int8, calib, mode=args.int8_mode)
        out = OrtHeatmapRunner(args.int8, threads=args.threads)(crops)
        agree = keypoint_agreement(model, ref, out, size)
        report['int8_agreement'] = agree['share']
        print(f'wrote {args.int8} ({args.int8_mode} int8): '
              f'{agree["share"]:.1%} of {agree["joints"]} decoded joints '
              f'within 1 heatmap px of fp32 (max {agree["max_px"]:.2f} px)')
    return report


if __name__ == '__main__':
    run_tool(lambda argv: main(argv) and 0)
