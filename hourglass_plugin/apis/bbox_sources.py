"""Person boxes for top-down pose estimation.

A top-down pose model sees one person per crop, so every image first needs
person boxes. They come from one of:

- :class:`MMDetPersonDetector`: an mmdet detector (config + checkpoint);
- :class:`CocoDetectionFile`: saved detector results in COCO result format
  (``[{image_id, bbox: [x, y, w, h], score, category_id}]``, e.g. the
  ``COCO_val2017_detections_AP_H_56_person.json`` file of HRNet / mmpose);
- explicit boxes given by the caller (checked by :func:`check_bboxes`);
- the whole image.

Both sources return *candidate* boxes of the person class; the score
threshold, the removal of unusable boxes and NMS are applied afterwards by
:func:`select_person_boxes`, the same way for every source (as mmpose's
``demo/topdown_demo_with_mmdet.py`` does for detector output).

All boxes are ``[x1, y1, x2, y2]`` in pixels of the (upright) input image,
float32, shape (N, 4); scores have shape (N,).
"""
import json
import logging
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Protocol, Tuple, Union

import numpy as np
from mmdet.apis import inference_detector, init_detector
from mmengine.logging import print_log
from mmpose.evaluation.functional import nms
from mmpose.structures.bbox import bbox_xywh2xyxy
from mmpose.utils import adapt_mmdet_pipeline

Boxes = Tuple[np.ndarray, np.ndarray]  # (N, 4) xyxy pixels, (N,) scores


class BBoxSource(Protocol):
    """Anything that proposes person boxes for an image."""

    def __call__(self,
                 img: np.ndarray,
                 img_path: Optional[str] = None,
                 image_id: Optional[int] = None) -> Boxes:
        """Return candidate person boxes (N, 4) xyxy pixels and scores (N,).

        ``img`` is the (H, W, 3) BGR image; ``img_path`` and ``image_id``
        identify it for sources that look boxes up instead of computing them.
        """


class MMDetPersonDetector:
    """Person boxes from an mmdet detector.

    Built once with ``mmdet.apis.init_detector``; each call runs
    ``mmdet.apis.inference_detector`` on one BGR array and keeps the boxes
    whose label is ``cat_id`` (the *index* of the person class in the
    detector's class list: 0 for COCO-80 detectors and for one-class person
    detectors such as ``configs/mmdet/rtmdet_m_640-8xb32_coco-person.py``).
    The test pipeline is rewritten with ``mmpose.utils.adapt_mmdet_pipeline``
    so that it reads arrays and resolves mmdet transforms in any scope.

    With ``checkpoint=None`` the detector keeps its random initial weights and
    mmdet labels it with the 80 COCO classes (index 0 = 'person'): useful to
    test the plumbing, not for real boxes.

    Args:
        config (str | Path): mmdet config file.
        checkpoint (str, optional): mmdet checkpoint file. Defaults to None.
        device (str): torch device. Defaults to ``'cpu'``.
        cat_id (int): class index of 'person'. Defaults to 0.

    Raises:
        ValueError: ``cat_id`` is not an index of the detector's classes.
    """

    def __init__(self,
                 config: Union[str, Path],
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 cat_id: int = 0) -> None:
        with warnings.catch_warnings():  # init_detector sets a global filter
            self.model = init_detector(str(config), checkpoint, device=device)
        self.model.cfg = adapt_mmdet_pipeline(self.model.cfg)
        classes = self.model.dataset_meta.get('classes', ())
        if not 0 <= cat_id < len(classes):
            raise ValueError(f'detector {config}: class index {cat_id} is not '
                             f'one of its {len(classes)} classes')
        if classes[cat_id] != 'person':
            print_log(
                f'detector {config}: class {cat_id} is '
                f"'{classes[cat_id]}', not 'person'",
                logger='current',
                level=logging.WARNING)
        self.cat_id = cat_id

    def __call__(self,
                 img: np.ndarray,
                 img_path: Optional[str] = None,
                 image_id: Optional[int] = None) -> Boxes:
        """Detect people in one (H, W, 3) BGR image.

        Returns:
            tuple: boxes (N, 4) xyxy in image pixels and scores (N,), float32,
            for the detections labelled ``cat_id``.
        """
        result = inference_detector(self.model, img)
        instances = result.pred_instances.cpu().numpy()
        keep = instances.labels == self.cat_id
        return (instances.bboxes[keep].astype(np.float32),
                instances.scores[keep].astype(np.float32))


class CocoDetectionFile:
    """Person boxes from a COCO-format detection results file.

    The file is a JSON list of records ``{"image_id": int, "bbox": [x, y, w,
    h], "score": float, "category_id": int}`` in image pixels (COCO results
    format, boxes as ``[x, y, width, height]``). Records of
    ``category_id`` (COCO's person category is 1) are kept.

    An image is matched to its records by image id: given explicitly, or
    looked up by file name in the ``images`` list of a COCO annotation file
    (``ann_file``), or, without one, read from the file's stem as an integer
    (COCO's naming, ``000000000785.jpg`` -> 785). An image whose id has no
    records has no people.

    Args:
        det_file (str | Path): detection results JSON.
        ann_file (str | Path, optional): COCO annotation JSON whose
            ``images`` entries (``id``, ``file_name``) name the images.
        category_id (int): category of the person records. Defaults to 1.

    Raises:
        ValueError: a file is not of that format; the message names the file
            and the record index.
    """

    def __init__(self,
                 det_file: Union[str, Path],
                 ann_file: Optional[Union[str, Path]] = None,
                 category_id: int = 1) -> None:
        self.det_file = str(det_file)
        self.ann_file = None if ann_file is None else str(ann_file)
        self.category_id = category_id
        self._boxes = self._load_detections(self.det_file, category_id)
        self._ids_by_name = (None if self.ann_file is None else
                             self._load_image_ids(self.ann_file))

    @staticmethod
    def _load_detections(det_file: str, category_id: int) -> Dict[int, Boxes]:
        """image id -> (boxes (N, 4) xyxy, scores (N,)) of ``category_id``."""
        records = _read_json(det_file)
        if not isinstance(records, list):
            raise ValueError(f'{det_file}: expected a list of detection '
                             f'records, got {type(records).__name__}')
        grouped: Dict[int, List[List[float]]] = {}
        for index, record in enumerate(records):
            try:
                image_id = int(record['image_id'])
                bbox = [float(v) for v in record['bbox']]
                score = float(record['score'])
                category = int(record['category_id'])
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(
                    f'{det_file}: record {index} is not a COCO detection '
                    f'{{image_id, bbox, score, category_id}}: {err!r}'
                ) from err
            if len(bbox) != 4 or not np.all(np.isfinite(bbox + [score])):
                raise ValueError(f'{det_file}: record {index} needs a finite '
                                 f'bbox [x, y, w, h] and score, got {record}')
            if category == category_id:
                grouped.setdefault(image_id, []).append(bbox + [score])
        return {
            image_id: (bbox_xywh2xyxy(np.array(rows, np.float32)[:, :4]),
                       np.array(rows, np.float32)[:, 4])
            for image_id, rows in grouped.items()
        }

    @staticmethod
    def _load_image_ids(ann_file: str) -> Dict[str, int]:
        """File name (base name) -> image id from a COCO ``images`` list."""
        ann = _read_json(ann_file)
        if not isinstance(ann, dict) or 'images' not in ann:
            raise ValueError(f'{ann_file}: not a COCO annotation file '
                             "(no 'images' list)")
        ids = {}
        for index, image in enumerate(ann['images']):
            try:
                ids[Path(image['file_name']).name] = int(image['id'])
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f'{ann_file}: images[{index}] needs '
                                 f"'file_name' and 'id': {err!r}") from err
        return ids

    def image_id_of(self, img_path: str) -> int:
        """The image id of an image file (see the class docstring).

        Raises:
            ValueError: the file is not in the annotation file, or (without
                one) its stem is not an integer.
        """
        name = Path(img_path).name
        if self._ids_by_name is not None:
            if name not in self._ids_by_name:
                raise ValueError(f'image {img_path} is not listed in the '
                                 f"'images' of {self.ann_file}")
            return self._ids_by_name[name]
        stem = Path(img_path).stem
        if not stem.isdigit():
            raise ValueError(
                f'image {img_path}: cannot read a COCO image id from the file '
                f'name; give the COCO annotation file (--det-ann-file) that '
                f'lists it, to match it with {self.det_file}')
        return int(stem)

    def __call__(self,
                 img: np.ndarray,
                 img_path: Optional[str] = None,
                 image_id: Optional[int] = None) -> Boxes:
        """Look up the person boxes of one image.

        Returns:
            tuple: boxes (N, 4) xyxy in image pixels and scores (N,), float32;
            N = 0 when the file has no records for the image.

        Raises:
            ValueError: neither ``image_id`` nor ``img_path`` identifies the
                image.
        """
        if image_id is None:
            if img_path is None:
                raise ValueError(
                    f'an image array needs its image_id to be matched with '
                    f'{self.det_file}')
            image_id = self.image_id_of(img_path)
        empty = (np.zeros((0, 4), np.float32), np.zeros((0, ), np.float32))
        return self._boxes.get(image_id, empty)


def box_problems(bboxes: np.ndarray,
                 img_shape: Tuple[int, int]) -> List[Optional[str]]:
    """Why each box cannot be a top-down crop (None where it can).

    A usable box is finite, has positive width and height (``x2 > x1`` and
    ``y2 > y1``) and overlaps the image. Boxes partly outside the image are
    usable: ``TopdownAffine`` fills the part outside with zeros.

    Args:
        bboxes (np.ndarray): (N, 4) boxes ``[x1, y1, x2, y2]``, pixels.
        img_shape (tuple): image (height, width) in pixels.

    Returns:
        list: N entries, a reason string or None.
    """
    height, width = img_shape
    problems = []
    for x1, y1, x2, y2 in bboxes:
        if not np.all(np.isfinite([x1, y1, x2, y2])):
            problems.append('is not finite')
        elif x2 <= x1 or y2 <= y1:
            problems.append('has zero or negative area (needs x2 > x1 and '
                            'y2 > y1)')
        elif x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            problems.append(f'lies outside the {width}x{height} image')
        else:
            problems.append(None)
    return problems


def check_bboxes(bboxes: Union[np.ndarray, List], img_shape: Tuple[int, int],
                 name: str) -> np.ndarray:
    """Validate caller-given person boxes.

    Args:
        bboxes (array-like): (N, 4) boxes ``[x1, y1, x2, y2]`` in image
            pixels; N may be 0.
        img_shape (tuple): image (height, width) in pixels.
        name (str): the image, for error messages.

    Returns:
        np.ndarray: the boxes as float32, shape (N, 4).

    Raises:
        ValueError: the array is not (N, 4), or a box is unusable (see
            :func:`box_problems`); the message names the image and box index.
    """
    boxes = np.asarray(bboxes, dtype=np.float32)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'{name}: person boxes must have shape (N, 4) as '
                         f'[x1, y1, x2, y2], got shape {boxes.shape}')
    for index, problem in enumerate(box_problems(boxes, img_shape)):
        if problem is not None:
            raise ValueError(f'{name}: box {index} {boxes[index].tolist()} '
                             f'{problem}')
    return boxes


def select_person_boxes(bboxes: np.ndarray, scores: np.ndarray,
                        img_shape: Tuple[int, int], name: str,
                        score_thr: float, nms_thr: float) -> Boxes:
    """Keep the detected people to estimate poses for.

    In this order: boxes with ``score >= score_thr``; minus unusable boxes
    (see :func:`box_problems`; dropped with a warning naming the image, since
    detectors can emit them); then greedy NMS with mmpose's
    ``evaluation.functional.nms`` (IoU with the +1-pixel area convention of
    HRNet; a box is dropped when its IoU with a higher-scored kept box is
    ``> nms_thr``; ``nms_thr >= 1`` keeps all).

    Args:
        bboxes (np.ndarray): (N, 4) xyxy boxes, pixels.
        scores (np.ndarray): (N,) box scores.
        img_shape (tuple): image (height, width) in pixels.
        name (str): the image, for warnings.
        score_thr (float): minimum box score.
        nms_thr (float): IoU threshold of NMS.

    Returns:
        tuple: kept boxes (M, 4) and scores (M,), float32, by descending
        score.
    """
    keep = scores >= score_thr
    bboxes, scores = bboxes[keep], scores[keep]
    problems = box_problems(bboxes, img_shape)
    usable = np.array([p is None for p in problems], dtype=bool)
    if not usable.all():
        print_log(
            f'{name}: dropped {int((~usable).sum())} unusable person boxes: ' +
            '; '.join(f'{bboxes[i].tolist()} {p}'
                      for i, p in enumerate(problems) if p is not None),
            logger='current',
            level=logging.WARNING)
        bboxes, scores = bboxes[usable], scores[usable]
    order = nms(np.concatenate([bboxes, scores[:, None]], axis=1), nms_thr)
    order = np.asarray(order, dtype=np.int64)
    return bboxes[order].astype(np.float32), scores[order].astype(np.float32)


def _read_json(path: str):
    """Parse a JSON file; ValueError naming the file when it is not JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON: {err}') from err
