"""Export a top-down heatmap model to ONNX and check it against PyTorch.

    python tools/export_onnx.py CONFIG CHECKPOINT --out FILE.onnx
        [--input-size W H] [--opset 17] [--int8 FILE_int8.onnx]
        [--int8-mode static|dynamic] [--calib-data data/] [--threads N]

CONFIG is a config path or an mmpose model-zoo config name; CHECKPOINT a
``.pth`` file, or ``none`` for the random initialisation (timing only).

The ONNX graph is the network ``input`` (N, 3, H, W) float32 normalised crops
-> ``heatmaps`` (N, K, h, w) float32 of the LAST stack (what inference
decodes), with a dynamic batch axis N; pre-processing, flip test and decoding
stay in Python (``hourglass_plugin.deploy.BackendPoseEstimator``). After
export the file is run in ONNX Runtime on real crops of the MPII people under
``--calib-data`` (default: the repository's ``data/``; batch 1 and batch 3)
and the largest heatmap difference to eager PyTorch is printed. ``--int8``
also writes a statically quantised model (QDQ, calibrated on the detector
boxes of ``--calib-data``'s COCO images) and prints how many decoded joints
stay within 1 heatmap pixel.
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

DATA_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file or mmpose config name')
    parser.add_argument(
        'checkpoint', help='checkpoint .pth, or "none" (random weights)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        metavar=('W', 'H'),
        help='network input size (default: the codec\'s)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--int8', metavar='FILE', help='also write an int8 model to FILE')
    parser.add_argument(
        '--int8-mode', choices=['static', 'dynamic'], default='static')
    parser.add_argument(
        '--calib-data',
        default=DATA_DIR,
        help='data root with the real crops that verify the export and '
        'calibrate --int8 (default: the repository\'s data/)')
    parser.add_argument(
        '--threads',
        type=int,
        default=torch.get_num_threads(),
        help='PyTorch and ONNX Runtime threads')
    return parser.parse_args(argv)


def verification_crops(model, size, data_root: str) -> torch.Tensor:
    """Real crops of the MPII people under ``data_root`` (3 people) at the
    export size ``(W, H)``.

    Raises:
        FileNotFoundError: If ``data_root`` has no
            ``annotations/mpii_val.json``.
    """
    sources = crop_sources(data_root)
    if 'mpii' not in sources:
        raise FileNotFoundError(f'{data_root}/annotations/mpii_val.json '
                                'is needed to verify the export')
    return resize_crops(
        dataset_crops(model, sources['mpii'], max_crops=3), size)


def resize_crops(crops: torch.Tensor, size) -> torch.Tensor:
    """(N, 3, H', W') crops resized (bilinear) to ``size`` ``(W, H)``."""
    if tuple(crops.shape[2:]) == (size[1], size[0]):
        return crops
    return F.interpolate(
        crops, size=(size[1], size[0]), mode='bilinear', align_corners=False)


def main(argv=None) -> dict:
    """Export, verify, optionally quantise; return the printed figures."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = load_pose_model(args.config, checkpoint, device='cpu')
    size = tuple(args.input_size or model_input_size(model))
    export_onnx(model, args.out, input_size=size, opset=args.opset)
    crops = verification_crops(model, size, args.calib_data)
    reference = reference_heatmaps(model, crops)
    runner = OrtHeatmapRunner(args.out, threads=args.threads)
    single = torch.cat([runner(c[None]) for c in crops])
    batched = runner(crops)
    report = dict(
        heatmap_peak=float(reference.abs().max()),
        max_abs_diff_b1=float((single - reference).abs().max()),
        max_abs_diff_b3=float((batched - reference).abs().max()))
    print(f'wrote {args.out} (input (N, 3, {size[1]}, {size[0]}), output '
          f'{tuple(reference.shape[1:])} per crop, opset {args.opset})')
    print(f'ONNX Runtime vs eager PyTorch on {len(crops)} real crops: max '
          f'abs heatmap diff {report["max_abs_diff_b1"]:.2e} (batch 1), '
          f'{report["max_abs_diff_b3"]:.2e} (batch {len(crops)}); heatmap '
          f'peak {report["heatmap_peak"]:.3g}')
    if args.int8:
        calib = None
        if args.int8_mode == 'static':
            calib = resize_crops(
                calibration_crops(model, args.calib_data), size)
        quantize_int8(args.out, args.int8, calib, mode=args.int8_mode)
        int8 = OrtHeatmapRunner(args.int8, threads=args.threads)(crops)
        agreement = keypoint_agreement(model, reference, int8, size)
        report['int8_agreement'] = agreement['share']
        print(f'wrote {args.int8} ({args.int8_mode} int8): '
              f'{agreement["share"]:.1%} of {agreement["joints"]} decoded '
              'joints within 1 heatmap px of fp32 (max '
              f'{agreement["max_px"]:.2f} px)')
    return report


if __name__ == '__main__':
    main()
