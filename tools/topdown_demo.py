"""Top-down multi-person pose estimation on images, folders and videos.

Person boxes come from an mmdet detector (``--det-config``), a COCO-format
detection results file (``--det-json``), explicit boxes (``--bboxes``) or,
by default, the whole image; every box goes through the pose model
(``--pose-config``/``--pose-checkpoint``), all boxes of an image in one batch.
Modelled on mmpose's ``demo/topdown_demo_with_mmdet.py``.

Outputs in ``--out-dir``, per input with file stem ``<stem>``:

- image: ``<stem>.png`` (skeletons, boxes, optional heatmaps) and
  ``<stem>.json``: a list with one object per person, ``{"bbox": [x1, y1,
  x2, y2], "bbox_score": s, "keypoints": [[x, y] x K], "keypoint_scores":
  [K], "keypoint_names": [K]}``, coordinates in pixels of the upright image;
  an empty list when nobody was found;
- video: ``<stem>.mp4`` (drawn frames, input frame rate) and ``<stem>.json``:
  a list with one entry per frame (frame 0 first), each entry the list of
  person objects of that frame as above (``null`` for a frame that failed).

An input (image or video frame) that cannot be read or processed (corrupt
file, unusable box, no image id for ``--det-json``) does not stop the run:
``error: <message naming the file>`` is printed, the other inputs are
processed, the failures are listed at the end and written to
``failures.json`` in ``--out-dir`` (``[{"input": path, "frame": index or
null, "error": message}]``; a stale one is removed when nothing fails) and
the exit code is 1. ``--fail-fast`` stops at the first failure instead.

Example::

    python tools/topdown_demo.py data/images \\
        --pose-config configs/hourglass52_mpii_256.py \\
        --pose-checkpoint hourglass52_mpii_256.pth \\
        --det-config configs/mmdet/rtmdet_m_640-8xb32_coco-person.py \\
        --det-checkpoint rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth \\
        --out-dir work_dirs/demo
"""
import json
import mimetypes
import os
import os.path as osp
import sys
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmengine.utils import mkdir_or_exist, track_iter_progress

from hourglass_plugin.apis import (BACKENDS, CocoDetectionFile,
                                   HourglassTopdownInferencer,
                                   MMDetPersonDetector, build_pose_visualizer,
                                   draw_result)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv: Optional[Sequence[str]] = None) -> Namespace:
    """Command-line options (see the module docstring)."""
    parser = ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='image file, folder of images or video')
    parser.add_argument(
        '--pose-config', required=True, help='mmpose top-down config')
    parser.add_argument(
        '--pose-checkpoint', required=True, help='pose checkpoint file')
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument('--det-config', help='mmdet person-detector config')
    boxes.add_argument(
        '--det-json',
        help='COCO detection results [{image_id, bbox: [x, y, w, h], score, '
        'category_id}]; images matched by id')
    boxes.add_argument(
        '--bboxes',
        help='person boxes for every input: "x1,y1,x2,y2;x1,y1,x2,y2" or a '
        'JSON file holding [[x1, y1, x2, y2], ...] (image pixels)')
    parser.add_argument(
        '--det-checkpoint',
        help='mmdet checkpoint; without it the detector keeps random '
        'weights (plumbing tests only)')
    parser.add_argument(
        '--det-ann-file',
        help='COCO annotation json whose "images" give the ids of the input '
        'files (default: id = integer file stem)')
    parser.add_argument(
        '--det-cat-id',
        type=int,
        default=0,
        help='class index of person in the detector output')
    parser.add_argument(
        '--det-json-cat-id',
        type=int,
        default=1,
        help='category_id of person records in --det-json')
    parser.add_argument(
        '--bbox-thr',
        type=float,
        default=0.3,
        help='keep detected boxes with score >= this')
    parser.add_argument(
        '--nms-thr',
        type=float,
        default=0.3,
        help='IoU threshold of box NMS (1 disables it)')
    parser.add_argument(
        '--whole-image-fallback',
        action='store_true',
        help='use the whole image as the person box when no box is kept')
    parser.add_argument(
        '--kpt-thr',
        type=float,
        default=0.3,
        help='keypoints with a lower score are not drawn')
    parser.add_argument(
        '--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
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
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--draw-heatmap',
        action='store_true',
        help='draw the predicted heatmaps below the image')
    parser.add_argument(
        '--no-draw-bbox', action='store_true', help='do not draw person boxes')
    parser.add_argument(
        '--radius', type=int, default=3, help='keypoint radius (pixels)')
    parser.add_argument(
        '--thickness', type=int, default=1, help='link thickness (pixels)')
    parser.add_argument(
        '--alpha', type=float, default=0.8, help='box transparency')
    parser.add_argument(
        '--fail-fast',
        action='store_true',
        help='stop at the first image or frame that fails (default: go on, '
        'list the failures at the end and in OUT_DIR/failures.json)')
    args = parser.parse_args(argv)
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config')
    if args.det_ann_file and not args.det_json:
        parser.error('--det-ann-file needs --det-json')
    if args.bboxes:
        try:
            args.bboxes = parse_bboxes(args.bboxes)
        except ValueError as err:
            parser.error(str(err))
    return args


def parse_bboxes(value: str) -> np.ndarray:
    """``"x1,y1,x2,y2;..."`` or a JSON file of boxes -> (N, 4) float32.

    Raises:
        ValueError: the text or file does not hold N x 4 numbers.
    """
    try:
        if Path(value).is_file():
            with open(value) as f:
                boxes = np.array(json.load(f), dtype=np.float32)
        else:
            boxes = np.array([[float(v) for v in box.split(',')]
                              for box in value.split(';') if box.strip()],
                             dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise ValueError(f'--bboxes {value!r}: not a list of boxes '
                         f'[x1, y1, x2, y2]: {err}') from err
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'--bboxes {value!r}: every box needs 4 numbers '
                         f'x1,y1,x2,y2 (got shape {boxes.shape})')
    return boxes


def list_inputs(path: str) -> List[Path]:
    """The images of a folder (sorted), or the single input file.

    Raises:
        ValueError: the path does not exist, the folder holds no image, or
            two images share a file stem (their outputs would collide).
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ValueError(f'input {path} does not exist')
    files = sorted(p for p in root.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f'input folder {path} holds no image '
                         f'({", ".join(IMAGE_SUFFIXES)})')
    stems = [p.stem for p in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ValueError(f'input folder {path}: several images share the '
                         f'file stem(s) {clashes}; outputs are named by stem')
    return files


def is_video(path: Path) -> bool:
    """Whether a file is a video, by its MIME type."""
    mime = mimetypes.guess_type(str(path))[0]
    return mime is not None and mime.startswith('video')


def build_inferencer(args: Namespace) -> HourglassTopdownInferencer:
    """The pose inferencer with the box source the options name."""
    bbox_source = None
    if args.det_config:
        bbox_source = MMDetPersonDetector(
            args.det_config,
            args.det_checkpoint,
            device=args.device,
            cat_id=args.det_cat_id)
    elif args.det_json:
        bbox_source = CocoDetectionFile(
            args.det_json, args.det_ann_file, category_id=args.det_json_cat_id)
    return HourglassTopdownInferencer(
        args.pose_config,
        args.pose_checkpoint,
        device=args.device,
        bbox_source=bbox_source,
        bbox_thr=args.bbox_thr,
        nms_thr=args.nms_thr,
        whole_image_fallback=args.whole_image_fallback,
        output_heatmaps=args.draw_heatmap,
        backend=args.backend,
        onnx_file=args.onnx_file,
        calib_data=args.calib_data)


#: Per-input errors: unreadable or undecodable files, unusable boxes.
INPUT_ERRORS = (ValueError, FileNotFoundError, OSError)


def failure(path: Path, err: Exception, frame: Optional[int] = None) -> dict:
    """A ``failures.json`` record; prints ``error: <message>`` to stderr.

    The message names the input file (prefixed when the error does not).
    """
    message = str(err)
    if str(path) not in message and path.name not in message:
        message = f'{path}: {message}'
    if frame is not None:
        message = f'frame {frame}: {message}'
    print(f'error: {message}', file=sys.stderr)
    return dict(input=str(path), frame=frame, error=message)


def run_images(args: Namespace, inferencer: HourglassTopdownInferencer,
               visualizer, files: List[Path]) -> List[dict]:
    """Write ``<stem>.png`` and ``<stem>.json`` for every image.

    Returns:
        list[dict]: one :func:`failure` record per image that failed.

    Raises:
        ValueError, FileNotFoundError, OSError: the first failure, with
            ``--fail-fast``.
    """
    failures = []
    for path in (track_iter_progress(files) if len(files) > 1 else files):
        try:
            result = inferencer(str(path), bboxes=args.bboxes)
        except INPUT_ERRORS as err:
            if args.fail_fast:
                raise
            failures.append(failure(path, err))
            continue
        drawing = draw_result(visualizer, result, args.draw_heatmap,
                              not args.no_draw_bbox, args.kpt_thr)
        mmcv.imwrite(
            mmcv.rgb2bgr(drawing), osp.join(args.out_dir, f'{path.stem}.png'))
        write_json([p.to_dict() for p in result.persons],
                   osp.join(args.out_dir, f'{path.stem}.json'))
    return failures


def run_video(args: Namespace, inferencer: HourglassTopdownInferencer,
              visualizer, path: Path) -> List[dict]:
    """Write ``<stem>.mp4`` and ``<stem>.json`` (one person list per frame).

    Frames drawn without a heatmap panel (no person) are padded with black
    below when heatmaps are drawn, to keep the frame size constant. A frame
    that cannot be decoded is left out of the ``.mp4``; one whose boxes are
    unusable is written undrawn; both get ``null`` in the ``.json``.

    Returns:
        list[dict]: one :func:`failure` record per failed frame.

    Raises:
        ValueError, FileNotFoundError, OSError: the first failure, with
            ``--fail-fast``.
    """
    video = mmcv.VideoReader(str(path))
    out_size = (video.width, video.height * (2 if args.draw_heatmap else 1))
    writer = cv2.VideoWriter(
        osp.join(args.out_dir, f'{path.stem}.mp4'),
        cv2.VideoWriter_fourcc(*'mp4v'), video.fps, out_size)
    frames, failures = [], []
    try:
        for index in track_iter_progress(range(len(video))):
            frame = video.read()
            try:
                if frame is None:
                    raise ValueError(f'cannot decode frame {index} of '
                                     f'{len(video)} of video {path}')
                result = inferencer(frame, bboxes=args.bboxes)
            except INPUT_ERRORS as err:
                if args.fail_fast:
                    raise
                failures.append(failure(path, err, index))
                frames.append(None)
                drawing = frame
            else:
                frames.append([p.to_dict() for p in result.persons])
                drawing = mmcv.rgb2bgr(
                    draw_result(visualizer, result, args.draw_heatmap,
                                not args.no_draw_bbox, args.kpt_thr))
            if drawing is not None:
                pad = out_size[1] - drawing.shape[0]
                writer.write(
                    cv2.copyMakeBorder(drawing, 0, pad, 0, 0,
                                       cv2.BORDER_CONSTANT))
    finally:
        writer.release()
    write_json(frames, osp.join(args.out_dir, f'{path.stem}.json'))
    return failures


def report_failures(out_dir: str, failures: List[dict],
                    num_inputs: int) -> None:
    """List the failures, write ``out_dir/failures.json``, exit 1.

    With no failure, a ``failures.json`` left by an earlier run is removed.

    Raises:
        SystemExit: code 1 when ``failures`` is not empty.
    """
    path = osp.join(out_dir, 'failures.json')
    if not failures:
        if osp.isfile(path):
            os.remove(path)
        return
    write_json(failures, path)
    lines = [f'  {f["error"]}' for f in failures]
    print(
        f'{len(failures)} of {num_inputs} inputs failed (listed in '
        f'{path}):',
        *lines,
        sep='\n',
        file=sys.stderr)
    raise SystemExit(1)


def write_json(obj, path: str) -> None:
    """Write predictions as indented JSON."""
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the demo; failed inputs give ``error: ...`` and exit code 1.

    Raises:
        SystemExit: code 2 on bad options; code 1 on a bad input path or set
            of options, or when any image or frame failed (after the others
            were processed, unless ``--fail-fast``).
    """
    args = parse_args(argv)
    try:
        files = list_inputs(args.input)
        videos = [p for p in files if is_video(p)]
        if videos and args.det_json:
            raise ValueError(f'{videos[0]}: --det-json matches boxes to '
                             'images by image id; use it for images only')
        mkdir_or_exist(args.out_dir)
        inferencer = build_inferencer(args)
        visualizer = build_pose_visualizer(inferencer.model.cfg,
                                           inferencer.dataset_meta,
                                           args.radius, args.thickness,
                                           args.alpha)
        if videos:
            failures = run_video(args, inferencer, visualizer, videos[0])
            num_inputs = len(mmcv.VideoReader(str(videos[0])))
        else:
            failures = run_images(args, inferencer, visualizer, files)
            num_inputs = len(files)
    except INPUT_ERRORS as err:
        print(f'error: {err}', file=sys.stderr)
        raise SystemExit(1) from err
    print(f'results written to {args.out_dir}')
    report_failures(args.out_dir, failures, num_inputs)


if __name__ == '__main__':
    main()
