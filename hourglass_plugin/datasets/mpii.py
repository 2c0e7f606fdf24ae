"""MPII Human Pose from HRNet-format annotations (``MPIIPoseDataset``)."""
import json
import logging
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.fileio import exists, get_local_path, join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs
from mmpose.datasets.datasets.body import MpiiDataset
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_cs2xyxy

from ..engine.data_check import (ImageLoadFailure, check_samples,
                                 find_image_loader, guard_image_loading)
from ..engine.errors import (BadSampleError, DatasetCheckError, DatasetError,
                             TooManyBadSamplesError)
from ..mpii import (KEYPOINT_ORIGIN, MPII_HEAD_JOINTS, NUM_MPII_JOINTS,
                    ZERO_BASED, head_sizes, load_headboxes)

NUM_JOINTS = NUM_MPII_JOINTS
#: MPII ``scale`` is the person height in units of 200 pixels.
PIXEL_STD = 200.0
#: ``scale`` values outside this range are reported (person height 40 to
#: 4,000 px; the 2,958 validation people span 0.58-12.44).
SANE_SCALE = (0.2, 20.0)
#: What to do with a record whose box cannot produce a crop.
BAD_BOX_ACTIONS = ('error', 'drop')


@DATASETS.register_module()
class MPIIPoseDataset(MpiiDataset):
    """MPII Human Pose (Andriluka et al., CVPR 2014) for top-down training
    and evaluation, read from HRNet's annotation layout::

        {data_root}/images/*.jpg
        {data_root}/annotations/mpii_{train,val,trainval,test}.json
        {data_root}/annotations/mpii_gt_val.mat   (head boxes, val only)

    Each json record is one person: ``image``, ``center`` (x, y), ``scale``
    (person height / 200 px) and, except in the test split, ``joints``
    (16 x [x, y]) and ``joints_vis`` (16 x 0/1), in 1-based MATLAB pixels.

    Conversions, done once here (``data_info`` is 0-based throughout):

    - ``keypoints`` (1, 16, 2) float32 = json joints - 1 (0-based image
      pixels); joints with ``joints_vis == 0`` are set to (0, 0).
    - ``keypoints_visible`` (1, 16) float32 = ``joints_vis``.
    - ``bbox_center`` (1, 2): ``center`` with ``y += 15 / 200 * scale_px``
      (to keep the feet in the crop; the original Torch training code, HRNet,
      mmpose), then - 1; ``bbox_scale`` (1, 2) = ``scale * 200`` pixels,
      unpadded: mmpose's ``GetBBoxCenterScale`` (default ``padding=1.25``)
      applies the 1.25 padding in the pipeline, as for mmpose's
      ``MpiiDataset``; ``bbox`` (1, 4) xyxy is the unpadded square.
    - ``head_size`` (1,) float64 pixels = 0.6 x head-box diagonal, when
      ``headbox_file`` is given (needed by ``MPIIPCKhMetric``).
    - ``id`` = the person's index in the annotation file (kept by
      ``PackPoseInputs`` as metainfo, used to write ``pred.mat`` in file
      order); ``img_id`` = the numeric image name.

    Differences from mmpose 1.x's ``MpiiDataset`` (subclassed for its
    argument checks): mmpose keeps the joints 1-based while its centre is
    0-based, so its training targets sit 1 px off the image and its metric
    adds 1 to the predictions; here joints, centre and predictions are all
    0-based (HRNet and mmpose 0.x subtract 1 from the joints as well).
    Nobody is filtered out (person index = data index); the test split
    (no joints) loads; ``headbox_file`` is joined with ``data_root`` like
    ``ann_file``; the head boxes are matched to the people by order and the
    match is checked; malformed records raise errors instead of loading.

    Args:
        ann_file (str): HRNet-format json, relative to ``data_root``.
        headbox_file (str, optional): MPII ground-truth ``.mat`` with
            ``headboxes_src`` (2, 2, N) for the same N people in the same
            order (``mpii_gt_val.mat`` / ``gt_valid.mat``), relative to
            ``data_root``. Only with ``test_mode=True`` (mmpose's rule).
        data_mode (str): ``'topdown'`` (one person per sample) or
            ``'bottomup'`` (mmpose's grouping by ``img_id``).
        metainfo (dict, optional): Defaults to mmpose's MPII dataset_info
            (``MpiiDataset.METAINFO``, resolved inside the installed mmpose).
        data_root (str, optional): Root of ``ann_file``, ``headbox_file`` and
            ``data_prefix``.
        data_prefix (dict): ``dict(img='images/')`` for the standard layout.
        filter_cfg, indices, serialize_data, pipeline, test_mode, lazy_init,
        max_refetch: as in mmengine's ``BaseDataset``.
        check_images (bool): At initialisation, decode every image once
            with the pipeline's loader (and strictly with Pillow) and check
            that visible joints lie inside their image
            (:func:`hourglass_plugin.engine.data_check.check_samples`, as
            ``tools/check_dataset.py``). Defaults to False.
        skip_bad_images (bool): Training only. A record whose image fails to
            load (found by ``check_images``, or when the pipeline loads it
            and a retry after ``GuardedImageLoad.RETRY_PAUSE`` = 1 s fails
            too) is skipped with a warning naming the annotation file, record
            and image, instead of stopping the run; the sample is replaced
            by another, random one (mmengine's refetch). Defaults to False.
        max_bad_fraction (float): With ``skip_bad_images``, the run stops
            (:class:`~hourglass_plugin.engine.TooManyBadSamplesError`) once
            more than this fraction of the records were skipped. Found while
            loading, the count is per data-loading process (exact with
            ``num_workers=0``; ``check_images`` counts exactly).
            Defaults to 0.01.
        bad_boxes (str): A record whose center is ``(-1, -1)`` (MPII's
            marker for "no position"; HRNet and mmpose train on it with
            all-zero target weights, and evaluate a crop of the image
            corner) has no box to crop. ``'error'`` (default): start-up
            stops naming the record; ``'drop'``: the record is left out,
            with a warning naming it (``dropped`` holds the messages; person
            indices stay those of the file). Records whose ``scale`` lies
            outside :data:`SANE_SCALE` are kept, with a warning
            (``scale_warnings``); ``tools/check_dataset.py`` lists both.

    Raises:
        FileNotFoundError: a missing annotation file, head-box file, or
            image (the message names the annotation file and record index).
        DatasetError: a record whose box cannot produce a crop (center
            ``(-1, -1)``) with ``bad_boxes='error'``; the message names the
            file, the record and how many such records there are.
        DatasetCheckError: ``check_images`` found bad records (all listed)
            and ``skip_bad_images`` is off or ``test_mode`` is on.
        BadSampleError: (when a sample is loaded) its image cannot be
            loaded and ``skip_bad_images`` is off or ``test_mode`` is on;
            one line: ``<ann_file>, record <i>: cannot load image <path>:
            <why>``.
        TooManyBadSamplesError: more than ``max_bad_fraction`` skipped.
        DatasetError: (a ``ValueError``) unreadable json; a record that is
            not an object, lacks a key, has a joint array that is not
            16 x 2, non-finite values,
            ``joints_vis`` not 0/1, ``scale <= 0``, or a non-numeric image
            name; joints present in some records but not in others; a test
            split (no joints) with ``test_mode=False``; a head-box count that
            differs from the number of people; a degenerate head box; or a
            head box that does not lie near its person's visible
            ``upper_neck``/``head_top`` (grown by ``HEADBOX_MARGIN`` x its
            diagonal on every side), i.e. a misaligned head-box file.
            Messages name the file(s) and the record index.
    """

    #: Head-box growth (fraction of its diagonal, each side) within which a
    #: visible upper_neck or head_top must lie. On the 2,958 validation
    #: people the largest upper_neck overshoot is 0.18 diagonals; a few
    #: head_top annotations are wrong (y = 0), hence "either joint".
    HEADBOX_MARGIN: float = 0.5

    def __init__(self,
                 ann_file: str = '',
                 headbox_file: Optional[str] = None,
                 data_mode: str = 'topdown',
                 metainfo: Optional[dict] = None,
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img=''),
                 filter_cfg: Optional[dict] = None,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 check_images: bool = False,
                 skip_bad_images: bool = False,
                 max_bad_fraction: float = 0.01,
                 bad_boxes: str = 'error') -> None:
        if not 0 <= max_bad_fraction <= 1:
            raise ValueError(f'max_bad_fraction must be in [0, 1], got '
                             f'{max_bad_fraction}')
        if bad_boxes not in BAD_BOX_ACTIONS:
            raise ValueError(f'bad_boxes must be one of {BAD_BOX_ACTIONS}, '
                             f'got {bad_boxes!r}')
        self.bad_boxes = bad_boxes
        self.dropped: Dict[int, str] = {}  # record index -> message
        self.scale_warnings: Dict[int, str] = {}
        self.check_images = check_images
        self.skip_bad_images = skip_bad_images
        self.max_bad_fraction = max_bad_fraction
        self.skipped: Dict[int, str] = {}  # record index -> message
        super().__init__(
            ann_file=ann_file,
            bbox_file=None,
            headbox_file=headbox_file,
            data_mode=data_mode,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            filter_cfg=filter_cfg,
            indices=indices,
            serialize_data=serialize_data,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)
        guard_image_loading(self.pipeline)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """mmpose's MPII metainfo plus ``keypoint_origin='0-based'``, the
        convention ``MPIIPCKhMetric`` and ``KeypointOriginCheckHook``
        check."""
        metainfo = super()._load_metainfo(metainfo)
        metainfo[KEYPOINT_ORIGIN] = ZERO_BASED
        return metainfo

    def filter_data(self) -> List[dict]:
        """mmpose's filtering, then, with ``check_images``, the pre-flight
        check (bad records dropped when ``skip_bad_images``)."""
        data_list = super().filter_data()
        if not self.check_images:
            return data_list
        problems = check_samples(data_list, self.ann_file,
                                 find_image_loader(self.pipeline.transforms),
                                 self.metainfo.get('keypoint_id2name'))
        if not problems:
            return data_list
        if not self.skip_bad_images or self.test_mode:
            raise DatasetCheckError(
                f'{len(problems)} bad record(s) in {self.ann_file} '
                '(check_images=True):\n' + '\n'.join(str(p) for p in problems))
        bad = {p.index for p in problems}
        for problem in problems:
            self._skip(problem.index, str(problem), len(data_list))
        return [info for info in data_list if info['id'] not in bad]

    def prepare_data(self, idx: int) -> Any:
        """mmpose's ``prepare_data``; an image that fails to load raises
        :class:`BadSampleError` or, with ``skip_bad_images`` in training,
        is skipped (``None``: mmengine fetches another index)."""
        try:
            return super().prepare_data(idx)
        except ImageLoadFailure as failure:
            info = self.get_data_info(idx)
            message = (f"{self.ann_file}, record {info['id']}: cannot load "
                       f"image {info['img_path']}: {failure}")
            if not self.skip_bad_images or self.test_mode:
                raise BadSampleError(message) from None
            self._skip(info['id'], message, len(self))
            return None

    def _skip(self, index: int, message: str, num_records: int) -> None:
        """Count and log a skipped record; stop past ``max_bad_fraction``."""
        if index in self.skipped:
            return
        self.skipped[index] = message
        print_log(
            f'skipped ({len(self.skipped)} so far): {message}',
            logger='current',
            level=logging.WARNING)
        if len(self.skipped) > self.max_bad_fraction * num_records:
            raise TooManyBadSamplesError(
                f'{len(self.skipped)} of {num_records} records of '
                f'{self.ann_file} skipped, more than max_bad_fraction='
                f'{self.max_bad_fraction}; first: '
                f'{next(iter(self.skipped.values()))}')

    def _join_prefix(self) -> None:
        """Join ``data_root`` with ``ann_file``, ``data_prefix`` and
        ``headbox_file`` (mmpose's ``MpiiDataset`` leaves the last alone)."""
        super()._join_prefix()
        if (self.headbox_file and not is_abs(self.headbox_file)
                and self.data_root):
            self.headbox_file = join_path(self.data_root, self.headbox_file)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """Parse and check every record; attach head sizes.

        Returns:
            tuple[list[dict], list[dict]]: per-person ``data_info`` in file
            order, and one ``dict(img_id, img_path)`` per image.
        """
        records = self._read_records()
        headboxes = self._read_headboxes(len(records))
        with_joints = isinstance(records[0], dict) and 'joints' in records[0]
        if not with_joints and not self.test_mode:
            raise DatasetError(
                f'{self.ann_file}: record 0 has no joints (test split?); a '
                'split without joints loads only with test_mode=True')
        instance_list, image_list, image_ids = [], [], set()
        for idx, record in enumerate(records):
            info = self._parse_record(idx, record, with_joints)
            if headboxes is not None:
                info['head_size'] = self._head_size(idx, info, headboxes[idx])
            if info['img_id'] not in image_ids:
                if not exists(info['img_path']):
                    raise FileNotFoundError(
                        f'{self.ann_file}, record {idx}: image '
                        f"{info['img_path']} not found")
                image_ids.add(info['img_id'])
                image_list.append(
                    dict(img_id=info['img_id'], img_path=info['img_path']))
            instance_list.append(info)
        return self._check_boxes(records, instance_list), image_list

    def _check_boxes(self, records: list,
                     instance_list: List[dict]) -> List[dict]:
        """Warn about scales outside :data:`SANE_SCALE`; refuse or drop the
        records with center ``(-1, -1)`` (``bad_boxes``).

        Returns:
            list[dict]: ``instance_list`` without the dropped records.

        Raises:
            DatasetError: such a record and ``bad_boxes='error'``.
        """
        no_center = []
        for info in instance_list:
            idx = info['id']
            where = f'{self.ann_file}, record {idx}'
            scale = float(records[idx]['scale'])
            if not SANE_SCALE[0] <= scale <= SANE_SCALE[1]:
                low, high = SANE_SCALE
                self.scale_warnings[idx] = (
                    f'{where}: scale {scale:g} outside the sane range '
                    f'{low:g}-{high:g} (person height {low * PIXEL_STD:g}-'
                    f'{high * PIXEL_STD:g} px)')
                print_log(
                    self.scale_warnings[idx],
                    logger='current',
                    level=logging.WARNING)
            if float(records[idx]['center'][0]) == -1:
                no_center.append(idx)
        if not no_center:
            return instance_list
        messages = {
            idx: (f'{self.ann_file}, record {idx}: center '
                  f"{list(records[idx]['center'])} is MPII's \"no position\" "
                  'marker: no person box to crop')
            for idx in no_center
        }
        if self.bad_boxes == 'error':
            raise DatasetError(
                f'{messages[no_center[0]]} ({len(no_center)} such '
                "record(s) in the file; bad_boxes='drop' leaves them out)")
        for idx in no_center:
            self.dropped[idx] = messages[idx]
            print_log(
                f'dropped: {messages[idx]}',
                logger='current',
                level=logging.WARNING)
        return [info for info in instance_list if info['id'] not in messages]

    def _get_topdown_data_infos(self, instance_list: List[dict]) -> List[dict]:
        """Keep every person, in file order (no filtering, unlike mmpose's
        base class, which drops people whose keypoints are all <= 0)."""
        return instance_list

    def _read_records(self) -> list:
        """The json list of people, checked to be a non-empty list."""
        if not exists(self.ann_file):
            raise FileNotFoundError(
                f'{self.ann_file}: annotation file not found')
        with get_local_path(self.ann_file) as local_path:
            with open(local_path) as f:
                try:
                    records = json.load(f)
                except ValueError as exc:
                    raise DatasetError(
                        f'{self.ann_file}: not valid JSON ({exc})') from None
        if not isinstance(records, list) or not records:
            raise DatasetError(
                f'{self.ann_file}: expected a non-empty json list of people '
                f'(HRNet MPII format), got {type(records).__name__}')
        return records

    def _read_headboxes(self, num_people: int) -> Optional[np.ndarray]:
        """(N, 2, 2) 1-based head boxes, or None without ``headbox_file``."""
        if not self.headbox_file:
            return None
        with get_local_path(self.headbox_file) as local_path:
            headboxes = load_headboxes(local_path)
        if len(headboxes) != num_people:
            raise DatasetError(
                f'{self.headbox_file} has {len(headboxes)} head boxes but '
                f'{self.ann_file} has {num_people} people: both must list '
                'the same people in the same order')
        return headboxes

    def _parse_record(self, idx: int, record: Any, with_joints: bool) -> dict:
        """One json record -> one 0-based ``data_info`` (see class doc)."""
        where = f'{self.ann_file}, record {idx}'
        if not isinstance(record, dict):
            raise DatasetError(
                f'{where}: expected an object, got {type(record).__name__}')
        required = ['image', 'center', 'scale']
        if with_joints:
            required += ['joints', 'joints_vis']
        elif 'joints' in record:
            raise DatasetError(f'{where} has joints but record 0 has none')
        missing = [key for key in required if key not in record]
        if missing:
            raise DatasetError(f'{where}: missing {missing}')

        center = _finite_array(record['center'], (2, ), 'center', where)
        scale = _finite_array(record['scale'], (), 'scale', where)
        if scale <= 0:
            raise DatasetError(f'{where}: scale must be > 0, got {scale}')
        scale_px = np.full(2, scale * PIXEL_STD)
        center[1] += 15.0 / PIXEL_STD * scale_px[1]  # (-1, -1): see bad_boxes
        center -= 1.0  # 1-based MATLAB -> 0-based

        keypoints = np.zeros((NUM_JOINTS, 2))
        visible = np.zeros(NUM_JOINTS)
        if with_joints:
            joints = _finite_array(record['joints'], (NUM_JOINTS, 2), 'joints',
                                   where)
            visible = _finite_array(record['joints_vis'], (NUM_JOINTS, ),
                                    'joints_vis', where)
            if not np.isin(visible, (0, 1)).all():
                raise DatasetError(f'{where}: joints_vis must be 0/1, got '
                                   f'{visible.tolist()}')
            keypoints = np.where(visible[:, None] > 0, joints - 1.0, 0.0)

        image = str(record['image'])
        stem = osp.splitext(osp.basename(image))[0]
        if not stem.isdigit():
            raise DatasetError(f"{where}: image name {image!r} is not MPII's "
                               "numeric 'NNNNNNNNN.jpg'")
        return dict(
            id=idx,
            img_id=int(stem),
            img_path=osp.join(self.data_prefix['img'], image),
            bbox_center=center.reshape(1, 2).astype(np.float32),
            bbox_scale=scale_px.reshape(1, 2).astype(np.float32),
            bbox=bbox_cs2xyxy(center[None], scale_px[None]).astype(np.float32),
            bbox_score=np.ones(1, dtype=np.float32),
            keypoints=keypoints[None].astype(np.float32),
            keypoints_visible=visible[None].astype(np.float32))

    def _head_size(self, idx: int, info: dict,
                   headbox: np.ndarray) -> np.ndarray:
        """(1,) head size of person ``idx`` after checking that its 1-based
        ``headbox`` (2, 2) lies at the person's head."""
        size = head_sizes(headbox[None])[0]
        if not size > 0:
            raise DatasetError(f'{self.headbox_file}: head box {idx} '
                               f'{headbox.tolist()} is degenerate')
        box = headbox - 1.0  # 1-based -> 0-based, like the keypoints
        low, high = box.min(axis=0), box.max(axis=0)
        margin = self.HEADBOX_MARGIN * np.linalg.norm(high - low)
        joints = list(MPII_HEAD_JOINTS)
        head = info['keypoints'][0, joints]
        head_visible = info['keypoints_visible'][0, joints] > 0
        inside = np.all(
            (head >= low - margin) & (head <= high + margin), axis=1)
        if head_visible.any() and not inside[head_visible].any():
            raise DatasetError(
                f'{self.headbox_file}: head box {idx} {headbox.tolist()} '
                f'(1-based) is not near the head joints of record {idx} of '
                f'{self.ann_file} ({head[head_visible].tolist()}, 0-based): '
                'the head boxes are not in the annotation order')
        return np.array([size])


def _finite_array(value: Any, shape: tuple, name: str,
                  where: str) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` with only finite entries.

    Raises:
        ValueError: not numeric, wrong shape or non-finite; names ``where``.
    """
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise DatasetError(f'{where}: {name} is not numeric: {value!r}') \
            from None
    if array.shape != shape:
        raise DatasetError(f'{where}: {name} has shape {array.shape}, '
                           f'expected {shape}')
    if not np.isfinite(array).all():
        raise DatasetError(f'{where}: {name} is not finite: {array.tolist()}')
    return array
