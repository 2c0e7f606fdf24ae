"""Top-down multi-person pose estimation on images, folders and videos.

Person boxes come from an mmdet detector (``--det-config``), a COCO-format
detection results file (``--det-json``), explicit boxes (``--bboxes``) or,
by default, the whole image; every box goes through the pose model
(``--pose-config``/``--pose-checkpoint``), all boxes of an image in one batch.
Modelled on mmpose's ``demo/topdown_demo_with_mmdet.py``. Outputs, their
names and the failure list: ``hourglass_plugin.apis.batch`` and
docs/inference.md. Exit code 0 when every input gave a result, 1 when one
failed (listed in ``OUT_DIR/failures.json``) or the run could not start
(``error: <message>``, the traceback only with ``--debug``).

Example::

    python tools/topdown_demo.py data/images \\
        --pose-config configs/hourglass52_mpii_256.py \\
        --pose-checkpoint hourglass52_mpii_256.pth \\
        --det-config configs/mmdet/rtmdet_m_640-8xb32_coco-person.py \\
        --det-checkpoint rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth \\
        --out-dir work_dirs/demo
"""
import os
import os.path as osp
import sys
from argparse import ArgumentParser, Namespace
from typing import List, Optional

from hourglass_plugin.apis import (BACKENDS, HourglassTopdownInferencer,
                                   InferenceError, TopdownBatch,
                                   build_pose_visualizer)
from hourglass_plugin.apis.options import (add_box_args, add_drawing_args,
                                           build_bbox_source, check_box_args)
from hourglass_plugin.engine import check_device
from hourglass_plugin.engine.cli import add_debug_arg, run_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# what a run can meet besides CheckpointError (a ValueError): bad inputs and
# options, files (OSError), a backend this machine cannot run (RuntimeError)
FAULTS = (ValueError, OSError, RuntimeError)


def parse_args(argv: Optional[List[str]] = None) -> Namespace:
    """Command-line options (see the module docstring)."""
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='image file, folder of images or video')
    parser.add_argument(
        '--pose-config', required=True, help='mmpose top-down config')
    parser.add_argument(
        '--pose-checkpoint', required=True, help='pose checkpoint file')
    add_box_args(parser)
    add_drawing_args(parser)
    parser.add_argument(
        '--device',
        help='torch device (default: cuda:0 when CUDA is available, else '
        'cpu)')
    parser.add_argument(
        '--backend',
        default='pytorch',
        choices=BACKENDS,
        help='how the pose network runs: eager PyTorch, or a fast path '
        '(onnx = ONNX Runtime fp32, int8, bf16, compile, ...)')
    parser.add_argument(
        '--onnx-file',
        help='exported ONNX pose model (tools/export_onnx.py) '
        'for --backend onnx/int8; exported at start-up when omitted')
    parser.add_argument(
        '--calib-data',
        default=osp.join(REPO_ROOT, 'data'),
        help='data root whose real person crops calibrate --backend int8 '
        '(default: the repository\'s data/)')
    parser.add_argument(
        '--out-dir',
        required=True,
        help='output folder (not the input folder; a sub-folder is fine)')
    parser.add_argument(
        '--fail-fast',
        action='store_true',
        help='stop at the first image or frame that fails (default: go on, '
        'list the failures at the end and in OUT_DIR/failures.json)')
    add_debug_arg(parser)
    args = parser.parse_args(argv)
    check_box_args(parser, args)
    return args


def run(args: Namespace) -> int:
    """Check inputs, outputs and device, build the models, run; the exit
    code (1 when an input failed)."""
    batch = TopdownBatch(
        args.input,
        args.out_dir,
        bboxes=args.bboxes,
        fail_fast=args.fail_fast,
        draw_heatmap=args.draw_heatmap,
        draw_bbox=not args.no_draw_bbox,
        kpt_thr=args.kpt_thr)
    if batch.video is not None and args.det_json:
        raise InferenceError(f'{batch.video}: --det-json matches boxes to '
                             'images by image id; use it for images only')
    device = check_device(args.device)
    inferencer = HourglassTopdownInferencer(
        args.pose_config,
        args.pose_checkpoint,
        device=device,
        bbox_source=build_bbox_source(args, device),
        bbox_thr=args.bbox_thr,
        nms_thr=args.nms_thr,
        whole_image_fallback=args.whole_image_fallback,
        output_heatmaps=args.draw_heatmap,
        backend=args.backend,
        onnx_file=args.onnx_file,
        calib_data=args.calib_data)
    visualizer = build_pose_visualizer(inferencer.model.cfg,
                                       inferencer.dataset_meta, args.radius,
                                       args.thickness, args.alpha)
    failures = batch.run(inferencer, visualizer)
    if len(failures) < batch.num_inputs:
        print(f'results written to {args.out_dir}')
    batch.report(failures)
    return 1 if failures else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo; a fault ends it with ``error: <message>`` on stderr and
    exit code 1 (the traceback with ``--debug``).

    Returns:
        int: 0 when every input gave a result, 1 otherwise.

    Raises:
        SystemExit: code 2 on bad options (argparse).
    """
    args = parse_args(argv)
    try:
        return run(args)
    except FAULTS as err:
        if args.debug or os.environ.get('HOURGLASS_DEBUG') == '1':
            raise
        print(f'error: {err}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    run_tool(main)
