"""Command-line options of top-down inference (``tools/topdown_demo.py``):
where person boxes come from, how results are drawn, and the range checks
of their values, as argparse type functions (a value out of range ends with
argparse's one-line ``error: argument --bbox-thr: ...``, exit code 2)."""
import json
from argparse import ArgumentParser, ArgumentTypeError, Namespace
from pathlib import Path
from typing import Optional

import numpy as np

from .bbox_sources import BBoxSource, CocoDetectionFile, MMDetPersonDetector


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ArgumentTypeError(f"'{text}' is not a number") from None


def score_threshold(text: str) -> float:
    """argparse type of a score threshold: a number in [0, 1].

    Raises:
        ArgumentTypeError: not a number, NaN, or outside [0, 1].
    """
    value = _number(text)
    if not 0 <= value <= 1:  # False for NaN too
        raise ArgumentTypeError(f'{text} is not in [0, 1]')
    return value


def iou_threshold(text: str) -> float:
    """argparse type of an NMS IoU threshold: a number in (0, 1] (1 keeps
    every box; 0 would keep only boxes that do not touch).

    Raises:
        ArgumentTypeError: not a number, NaN, or outside (0, 1].
    """
    value = _number(text)
    if not 0 < value <= 1:
        raise ArgumentTypeError(f'{text} is not in (0, 1]')
    return value


def parse_bboxes(value: str) -> np.ndarray:
    """``--bboxes``: ``"x1,y1,x2,y2;..."`` or a JSON file holding ``[[x1,
    y1, x2, y2], ...]`` -> (N, 4) float32 boxes in image pixels.

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


def add_box_args(parser: ArgumentParser) -> None:
    """Add the person-box options: ``--det-config`` / ``--det-json`` /
    ``--bboxes`` (one of them, or the whole image), their settings, and
    ``--bbox-thr``, ``--nms-thr``, ``--whole-image-fallback``."""
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
        type=score_threshold,
        default=0.3,
        help='keep detected boxes with score >= this, in [0, 1]')
    parser.add_argument(
        '--nms-thr',
        type=iou_threshold,
        default=0.3,
        help='IoU threshold of box NMS, in (0, 1] (1 disables it)')
    parser.add_argument(
        '--whole-image-fallback',
        action='store_true',
        help='use the whole image as the person box when no box is kept')


def add_drawing_args(parser: ArgumentParser) -> None:
    """Add the drawing options: ``--kpt-thr``, ``--draw-heatmap``,
    ``--no-draw-bbox``, ``--radius``, ``--thickness``, ``--alpha``."""
    parser.add_argument(
        '--kpt-thr',
        type=score_threshold,
        default=0.3,
        help='keypoints with a lower score are not drawn, in [0, 1]')
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


def check_box_args(parser: ArgumentParser, args: Namespace) -> None:
    """Refuse option pairs that do not go together (``parser.error``, exit
    code 2) and turn ``--bboxes`` into an (N, 4) array (in place)."""
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config')
    if args.det_ann_file and not args.det_json:
        parser.error('--det-ann-file needs --det-json')
    if args.bboxes:
        try:
            args.bboxes = parse_bboxes(args.bboxes)
        except ValueError as err:
            parser.error(str(err))


def build_bbox_source(args: Namespace, device: str) -> Optional[BBoxSource]:
    """The person-box source the options name: an
    :class:`~.bbox_sources.MMDetPersonDetector` on ``device``, a
    :class:`~.bbox_sources.CocoDetectionFile`, or None (given boxes or the
    whole image)."""
    if args.det_config:
        return MMDetPersonDetector(
            args.det_config,
            args.det_checkpoint,
            device=device,
            cat_id=args.det_cat_id)
    if args.det_json:
        return CocoDetectionFile(
            args.det_json, args.det_ann_file, category_id=args.det_json_cat_id)
    return None
