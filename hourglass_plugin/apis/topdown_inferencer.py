"""Top-down multi-person pose estimation: person boxes -> one pose per box.

The two-stage pipeline of Newell et al. 2016 (Sec. 5: one person per crop
around a given person position) and of every mmpose top-down model:

    image -> person boxes (detector / detection file / given / whole image)
          -> per box: centre and scale with padding 1.25, affine crop to the
             model input (mmpose ``GetBBoxCenterScale`` + ``TopdownAffine``,
             the pose config's test pipeline)
          -> pose model on all crops of the image as one batch
          -> heatmap decoding -> keypoints mapped back to image pixels

The crop, batching, decoding and back-mapping are mmpose's own
(``mmpose.apis.inference_topdown`` and the model's ``test_step``); this class
chooses the boxes, validates inputs, and packages the results.
"""
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from mmpose.apis import inference_topdown
from mmpose.structures import PoseDataSample, merge_data_samples

from ..deploy.backends import BACKENDS
from ..engine import check_device, init_pose_model
from .bbox_sources import BBoxSource, check_bboxes, select_person_boxes
from .image_io import ImageInput, load_image


@dataclass
class PersonPose:
    """The pose of one person, in pixels of the input image (0-based, the
    coordinate frame of mmpose's keypoints and of the box).

    Attributes:
        bbox (np.ndarray): (4,) person box ``[x1, y1, x2, y2]``.
        bbox_score (float): detector score of the box (1.0 for given boxes).
        keypoints (np.ndarray): (K, 2) keypoint ``[x, y]``.
        keypoint_scores (np.ndarray): (K,) heatmap maxima (confidence).
        keypoint_names (list[str]): K joint names in the model's order.
    """
    bbox: np.ndarray
    bbox_score: float
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    keypoint_names: List[str]

    def to_dict(self) -> Dict:
        """JSON-ready dict with keys ``bbox``, ``bbox_score``, ``keypoints``,
        ``keypoint_scores`` and ``keypoint_names`` (plain lists/floats)."""
        return dict(
            bbox=[float(v) for v in self.bbox],
            bbox_score=float(self.bbox_score),
            keypoints=[[float(x), float(y)] for x, y in self.keypoints],
            keypoint_scores=[float(s) for s in self.keypoint_scores],
            keypoint_names=list(self.keypoint_names))


@dataclass
class TopdownResult:
    """All people of one image.

    Attributes:
        persons (list[PersonPose]): one entry per person box, in box order
            (by descending box score for detected boxes).
        data_sample (PoseDataSample): the per-box mmpose results merged with
            ``mmpose.structures.merge_data_samples``; ``pred_instances`` has
            ``keypoints`` (N, K, 2), ``keypoint_scores`` (N, K), ``bboxes``
            (N, 4) and ``bbox_scores`` (N,), and ``pred_fields.heatmaps``
            (K, H, W) in image pixels when heatmaps were requested. What
            mmpose's ``PoseLocalVisualizer`` and tools take.
        image (np.ndarray): the (H, W, 3) BGR image the poses refer to (after
            EXIF rotation, alpha removal and grayscale expansion).
    """
    persons: List[PersonPose]
    data_sample: PoseDataSample
    image: np.ndarray


class HourglassTopdownInferencer:
    """Build once, then estimate the poses of all people in many images.

    Works with any mmpose top-down config (the Stacked Hourglass configs of
    this project, or mmpose's own); the model is built by
    :func:`hourglass_plugin.engine.init_pose_model` (``mmpose.apis.init_model``
    whose checkpoint must fit the model: a checkpoint of another
    architecture or width is refused, never loaded as random weights).

    For each image the person boxes are, by priority: the ``bboxes`` given to
    :meth:`__call__`; else those of ``bbox_source`` (a
    :class:`~.bbox_sources.MMDetPersonDetector` or
    :class:`~.bbox_sources.CocoDetectionFile`) after
    :func:`~.bbox_sources.select_person_boxes` (``score >= bbox_thr``, NMS at
    ``nms_thr``); else, without a source, the whole image. When a source
    finds nobody, the result is empty unless ``whole_image_fallback``.

    Args:
        pose_config (str | Path): mmpose top-down config file.
        pose_checkpoint (str, optional): checkpoint; None keeps the model's
            initial weights.
        device (str, optional): torch device (checked by
            :func:`~hourglass_plugin.engine.check_device`). Defaults to the one
            the machine has: ``'cuda:0'`` when CUDA is available, else
            ``'cpu'``.
        bbox_source (BBoxSource, optional): where person boxes come from.
        bbox_thr (float): minimum box score. Defaults to 0.3.
        nms_thr (float): IoU threshold of box NMS. Defaults to 0.3.
        whole_image_fallback (bool): use the whole image as one person box
            when the source finds nobody. Defaults to False.
        output_heatmaps (bool): keep heatmaps in ``data_sample.pred_fields``
            (for drawing). They are merged by mmpose at image resolution,
            which costs N x K x H x W x 4 bytes; above
            ``max_heatmap_bytes`` they are left out with a warning.
        max_heatmap_bytes (int): see ``output_heatmaps``. Defaults to 2 GiB.
        backend (str): how the pose network runs: ``'pytorch'`` (the eager
            mmpose model, default) or a fast path of
            :mod:`hourglass_plugin.deploy` (``'onnx'``: ONNX Runtime fp32,
            heatmaps equal to eager within 1e-4; ``'int8'``: ONNX Runtime
            static int8; ``'bf16'``, ``'compile'``, ...). Pre-processing,
            flip test, decoding and the mapping back to the image stay the
            model's own (``deploy.BackendPoseEstimator``).
        onnx_file (str, optional): an exported ONNX model
            (``tools/export_onnx.py``) for the ONNX backends; without it the
            model is exported (and for ``'int8'`` calibrated) at start-up.
        threads (int, optional): ONNX Runtime intra-op threads.
        calib_data (str | Tensor | dict, optional): what ``'int8'`` is
            calibrated on without ``onnx_file``: a data root such as the
            repository's ``data/``, real crops, or a dataset config
            (``deploy.calibration_crops``).

    Raises:
        ValueError: unknown ``backend``.
        DeviceError: a ``device`` the machine does not have.
        CheckpointError: ``pose_checkpoint`` is not a checkpoint or does not
            fit the model (the message names the file, the config and the
            first mismatching keys).
        RuntimeError, ValueError: a ``backend`` that cannot run here (e.g.
            ONNX Runtime without its CUDA provider on a CUDA device), raised
            by :mod:`hourglass_plugin.deploy`.
    """

    def __init__(self,
                 pose_config: Union[str, Path],
                 pose_checkpoint: Optional[str] = None,
                 device: Optional[str] = None,
                 bbox_source: Optional[BBoxSource] = None,
                 bbox_thr: float = 0.3,
                 nms_thr: float = 0.3,
                 whole_image_fallback: bool = False,
                 output_heatmaps: bool = False,
                 max_heatmap_bytes: int = 2 << 30,
                 backend: str = 'pytorch',
                 onnx_file: Optional[str] = None,
                 threads: Optional[int] = None,
                 calib_data=None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f'backend {backend!r} is not one of {BACKENDS}')
        self.backend = backend
        self.device = check_device(device)
        self.model = init_pose_model(
            str(pose_config), pose_checkpoint, device=self.device)
        self.model.test_cfg['output_heatmaps'] = output_heatmaps
        self.pose_estimator = self.model
        if backend != 'pytorch':
            from ..deploy import BackendPoseEstimator, build_heatmap_runner
            runner = build_heatmap_runner(
                self.model,
                backend,
                threads=threads,
                onnx_file=onnx_file,
                checkpoint=pose_checkpoint,
                calib_data=calib_data,
                spin_wait=False)  # the pipeline's PyTorch work needs the cores
            self.pose_estimator = BackendPoseEstimator(self.model, runner)
        self.bbox_source = bbox_source
        self.bbox_thr = bbox_thr
        self.nms_thr = nms_thr
        self.whole_image_fallback = whole_image_fallback
        self.max_heatmap_bytes = max_heatmap_bytes
        id2name = self.model.dataset_meta['keypoint_id2name']
        self.keypoint_names = [id2name[i] for i in range(len(id2name))]

    @property
    def dataset_meta(self) -> Dict:
        """The pose model's dataset meta (joint names, skeleton, colours)."""
        return self.model.dataset_meta

    def __call__(self,
                 img: ImageInput,
                 bboxes: Optional[Union[np.ndarray, Sequence]] = None,
                 bbox_scores: Optional[Union[np.ndarray, Sequence]] = None,
                 image_id: Optional[int] = None) -> TopdownResult:
        """Estimate the poses of all people in one image.

        Args:
            img (str | Path | np.ndarray): image file, or array in OpenCV
                convention (see :func:`~.image_io.load_image`); any size.
            bboxes (array-like, optional): (N, 4) person boxes ``[x1, y1, x2,
                y2]`` in image pixels, used as given (N = 0: nobody).
            bbox_scores (array-like, optional): (N,) scores of ``bboxes``;
                1.0 when not given.
            image_id (int, optional): image id for a detection-file source
                (needed when ``img`` is an array).

        Returns:
            TopdownResult: one :class:`PersonPose` per box.

        Raises:
            ValueError: the image cannot be read, a given box is unusable
                (zero area, outside the image, not finite) or
                ``bbox_scores`` does not match ``bboxes``; the message names
                the image and the box index.
        """
        name = 'image array' if isinstance(img, np.ndarray) else str(img)
        image = load_image(img)
        boxes, scores = self._person_boxes(image, name, bboxes, bbox_scores,
                                           image_id)
        samples = self.forward_pose(image, boxes) if len(boxes) else []
        for sample, score in zip(samples, scores):
            sample.gt_instances.bbox_scores = np.array([score], np.float32)
            sample.pred_instances.bbox_scores = np.array([score], np.float32)
        merged = self._merge(samples, image, name)
        return TopdownResult(
            persons=self._persons(merged.pred_instances),
            data_sample=merged,
            image=image)

    def forward_pose(self, image: np.ndarray,
                     bboxes: np.ndarray) -> List[PoseDataSample]:
        """Run the pose model on all person boxes of one image as one batch.

        The backend step: mmpose's ``inference_topdown`` applies the config's
        test pipeline (``GetBBoxCenterScale`` with padding 1.25,
        ``TopdownAffine`` to the input size) to every box, runs
        ``model.test_step`` once on the batch (flip test and decoding as the
        config says), and maps keypoints back to image pixels.

        Args:
            image (np.ndarray): (H, W, 3) BGR image.
            bboxes (np.ndarray): (N, 4) xyxy boxes in image pixels, N >= 1.

        Returns:
            list[PoseDataSample]: N results; ``pred_instances.keypoints`` is
            (1, K, 2) in image pixels.
        """
        return inference_topdown(
            self.pose_estimator, image, bboxes, bbox_format='xyxy')

    def _person_boxes(
            self, image: np.ndarray, name: str,
            bboxes: Optional[Union[np.ndarray, Sequence]],
            bbox_scores: Optional[Union[np.ndarray, Sequence]],
            image_id: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
        """The (N, 4) boxes and (N,) scores to estimate poses for."""
        height, width = image.shape[:2]
        whole = (np.array([[0, 0, width, height]],
                          np.float32), np.ones(1, np.float32))
        if bboxes is not None:
            boxes = check_bboxes(bboxes, (height, width), name)
            if bbox_scores is None:
                return boxes, np.ones(len(boxes), np.float32)
            scores = np.asarray(bbox_scores, np.float32).reshape(-1)
            if len(scores) != len(boxes):
                raise ValueError(f'{name}: {len(boxes)} boxes but '
                                 f'{len(scores)} bbox_scores')
            return boxes, scores
        if self.bbox_source is None:
            return whole
        img_path = None if name == 'image array' else name
        boxes, scores = self.bbox_source(image, img_path, image_id)
        boxes, scores = select_person_boxes(boxes, scores, (height, width),
                                            name, self.bbox_thr, self.nms_thr)
        if len(boxes) == 0 and self.whole_image_fallback:
            return whole
        return boxes, scores

    def _merge(self, samples: List[PoseDataSample], image: np.ndarray,
               name: str) -> PoseDataSample:
        """Merge per-box results; an empty image gets empty instances."""
        height, width = image.shape[:2]
        if not samples:
            num_keypoints = len(self.keypoint_names)
            empty = PoseDataSample(
                metainfo=dict(
                    img_shape=(height, width), ori_shape=(height, width)))
            empty.pred_instances = InstanceData(
                keypoints=np.zeros((0, num_keypoints, 2), np.float32),
                keypoint_scores=np.zeros((0, num_keypoints), np.float32),
                bboxes=np.zeros((0, 4), np.float32),
                bbox_scores=np.zeros((0, ), np.float32))
            return empty
        heatmap_bytes = (
            len(samples) * len(self.keypoint_names) * height * width * 4)
        if 'pred_fields' in samples[0] and \
                heatmap_bytes > self.max_heatmap_bytes:
            print_log(
                f'{name}: heatmaps left out; merging them at {width}x{height} '
                f'for {len(samples)} people would take '
                f'{heatmap_bytes / 2**30:.1f} GiB',
                logger='current',
                level=logging.WARNING)
            for sample in samples:
                del sample.pred_fields
        return merge_data_samples(samples)

    def _persons(self, instances: InstanceData) -> List[PersonPose]:
        """One :class:`PersonPose` per row of merged ``pred_instances``."""
        return [
            PersonPose(
                bbox=instances.bboxes[i],
                bbox_score=float(instances.bbox_scores[i]),
                keypoints=instances.keypoints[i],
                keypoint_scores=instances.keypoint_scores[i],
                keypoint_names=self.keypoint_names)
            for i in range(len(instances.keypoints))
        ]
