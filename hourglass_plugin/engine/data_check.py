"""Pre-flight check of a pose dataset: every image decoded once.

Used by ``tools/check_dataset.py`` and by ``MPIIPoseDataset(check_images=
True)``. Each image is decoded with the pipeline's own loader (the
``LoadImage`` transform of the dataset's pipeline, so the same backend,
colour flag and file backend as training) and, to catch JPEG/PNG files cut
short that a decoder may still return pixels for, fully decoded once more by
Pillow with truncated images refused. Records whose visible joints lie
outside their image, or whose person box does not overlap it, are reported
too.
"""
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.utils import ProgressBar
from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class SampleProblem:
    """One bad record: ``<ann_file>, record <index>: image <image>: <what>``.

    Attributes:
        ann_file (str): The annotation file.
        index (int): 0-based record index in that file.
        image (str): The image path.
        what (str): What is wrong (one line).
    """

    ann_file: str
    index: int
    image: str
    what: str

    def __str__(self) -> str:
        return (f'{self.ann_file}, record {self.index}: image {self.image}: '
                f'{self.what}')


def one_line(err: BaseException) -> str:
    """``err``'s message with its whitespace (OpenCV's newlines) collapsed;
    for mmpose's ``LoadImage`` re-raise (``"<message>" occurs when
    loading ...``), the original error's message."""
    original = err
    if ('occurs when loading' in str(err)
            and isinstance(err.__context__, Exception)):
        original = err.__context__
    return ' '.join(str(original).split()) or type(original).__name__


def strict_decode_error(path: str) -> Optional[str]:
    """Pillow's complaint when fully decoding ``path`` (truncated files
    refused), or None when it decodes or is a format Pillow does not read.
    """
    try:
        with Image.open(path) as image:
            image.load()  # raises on truncated files (LOAD_TRUNCATED_IMAGES)
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError) as err:
        return one_line(err)
    return None


def describe_load_error(path: str,
                        err: BaseException,
                        backend_args: Optional[dict] = None) -> str:
    """Why the image at ``path`` did not load: ``file not found``, ``empty
    file (0 bytes)``, ``truncated (<Pillow's message>)`` or ``cannot decode
    (<loader's message>)``; for a path served by a non-local mmengine file
    backend (``s3://``, ``http://``, a ``backend_args`` path mapping),
    ``cannot load through <Backend> (<loader's message>)``, since the local
    file system says nothing about it."""
    backend = get_file_backend(path, backend_args=backend_args)
    if not isinstance(backend, LocalBackend):
        return (f'cannot load through {type(backend).__name__} '
                f'({one_line(err)})')
    if not osp.isfile(path):
        return 'file not found'
    if osp.getsize(path) == 0:
        return 'empty file (0 bytes)'
    strict = strict_decode_error(path)
    if strict is not None and 'truncated' in strict:
        return f'truncated ({strict})'
    return f'cannot decode ({one_line(err)})'


def find_image_loader(pipeline: Sequence) -> LoadImageFromFile:
    """The first image-loading transform of ``pipeline``, built.

    Args:
        pipeline (Sequence[dict | callable]): A dataset pipeline (config
            dicts such as ``dict(type='LoadImage')`` or built transforms,
            :class:`GuardedImageLoad` unwrapped).

    Returns:
        LoadImageFromFile: That transform (mmpose's ``LoadImage`` and
        mmcv's ``LoadImageFromFile`` qualify), or mmpose's ``LoadImage()``
        when the pipeline has none.
    """
    from mmpose.registry import TRANSFORMS
    for step in pipeline:
        transform = TRANSFORMS.build(step) if isinstance(step, dict) else step
        if isinstance(transform, GuardedImageLoad):
            transform = transform.transform
        if isinstance(transform, LoadImageFromFile):
            return transform
    return TRANSFORMS.build(dict(type='LoadImage'))


def check_image(
    path: str, loader: Callable[[dict], Optional[dict]]
) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """Decode one image with ``loader``, then strictly with Pillow.

    Args:
        path (str): Image file.
        loader (callable): A loading transform (``results = loader(dict(
            img_path=path))`` with ``results['img']``).

    Returns:
        tuple: ``(problem, None)`` for a missing, empty, undecodable or
        truncated file; else ``(None, (height, width))`` in pixels.
    """
    try:
        results = loader(dict(img_path=path))
        if results is None or results.get('img') is None:
            raise ValueError('the loader returned no image')
    except Exception as err:  # every decoder failure has its own type
        return describe_load_error(path, err,
                                   getattr(loader, 'backend_args', None)), None
    strict = strict_decode_error(path)
    if strict is not None:
        return f'truncated or corrupt ({strict})', None
    return None, tuple(results['img'].shape[:2])


def joints_outside(info: dict, height: int, width: int,
                   names: Dict[int, str]) -> Optional[str]:
    """Describe the visible joints of ``info`` outside the image, or None.

    Args:
        info (dict): A ``data_info`` with ``keypoints`` (1, K, 2) 0-based
            image pixels and ``keypoints_visible`` (1, K).
        height, width (int): Image size in pixels.
        names (dict): Keypoint index -> name.

    Returns:
        str | None: e.g. ``joint(s) left_wrist (5000.0, 20.0) outside the
        1280x720 image (0-based pixels)``; a joint counts as inside when
        ``-0.5 <= x <= width - 0.5`` and likewise for y (pixel edges).
    """
    if 'keypoints' not in info:
        return None
    keypoints = np.asarray(info['keypoints'], dtype=np.float64)[0]
    visible = np.asarray(info['keypoints_visible'])[0] > 0
    outside = visible & ((keypoints[:, 0] < -0.5)
                         | (keypoints[:, 0] > width - 0.5)
                         | (keypoints[:, 1] < -0.5)
                         | (keypoints[:, 1] > height - 0.5))
    if not outside.any():
        return None
    listed = ', '.join(
        f'{names.get(k, k)} ({keypoints[k, 0]:.1f}, {keypoints[k, 1]:.1f})'
        for k in np.flatnonzero(outside))
    return (f'joint(s) {listed} outside the {width}x{height} image '
            '(0-based pixels)')


def box_outside(info: dict, height: int, width: int) -> Optional[str]:
    """Describe a person box that cannot produce a crop of its image.

    Args:
        info (dict): A ``data_info`` with ``bbox`` (1, 4) xyxy, 0-based
            image pixels (unpadded).
        height, width (int): Image size in pixels.

    Returns:
        str | None: e.g. ``person box (-412.0, -412.0, -12.0, -12.0) does
        not overlap the 1280x720 image (0-based pixels)``, or None when the
        box overlaps the image (pixel edges at -0.5 and size - 0.5).
    """
    if 'bbox' not in info:
        return None
    x1, y1, x2, y2 = np.asarray(info['bbox'], dtype=np.float64)[0]
    if x2 > -0.5 and y2 > -0.5 and x1 < width - 0.5 and y1 < height - 0.5:
        return None
    return (f'person box ({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}) does not '
            f'overlap the {width}x{height} image (0-based pixels)')


def check_samples(data_list: Sequence[dict],
                  ann_file: str,
                  loader: Callable[[dict], Optional[dict]],
                  keypoint_names: Optional[Dict[int, str]] = None,
                  num_threads: int = 8,
                  progress: bool = True) -> List[SampleProblem]:
    """Check every image of ``data_list`` once, in parallel.

    Args:
        data_list (Sequence[dict]): ``data_info`` dicts (``img_path``,
            ``keypoints``, ``keypoints_visible``, ``id`` = record index in
            ``ann_file``; the position in the list when ``id`` is absent).
        ann_file (str): Annotation file named in the problems.
        loader (callable): The pipeline's image loader
            (:func:`find_image_loader`).
        keypoint_names (dict, optional): Index -> name for the messages.
        num_threads (int): Images decoded at once (decoders release the
            GIL). Defaults to 8.
        progress (bool): Show mmengine's progress bar. Defaults to True.

    Returns:
        list[SampleProblem]: Sorted by record index; empty when all is well.
    """
    by_image: Dict[str, List[Tuple[int, dict]]] = {}
    for position, info in enumerate(data_list):
        index = int(info.get('id', position))
        by_image.setdefault(info['img_path'], []).append((index, info))
    bar = ProgressBar(len(by_image)) if progress and by_image else None
    problems = []
    with ThreadPoolExecutor(max(1, num_threads)) as pool:
        futures = {
            pool.submit(check_image, path, loader): path
            for path in by_image
        }
        for future in as_completed(futures):
            path = futures[future]
            what, size = future.result()
            for index, info in by_image[path]:
                if what is None:
                    found = [
                        joints_outside(info, *size, keypoint_names or {}),
                        box_outside(info, *size)
                    ]
                    what_here = '; '.join(f for f in found if f) or None
                else:
                    what_here = what
                if what_here is not None:
                    problems.append(
                        SampleProblem(ann_file, index, path, what_here))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.file.write('\n')
    return sorted(problems, key=lambda p: (p.index, p.image))


class ImageLoadFailure(Exception):
    """Raised by :class:`GuardedImageLoad`; the message says why (one line,
    see :func:`describe_load_error`)."""


class GuardedImageLoad:
    """Wraps a pipeline's image-loading transform so that its failure is
    told apart from other pipeline errors: a load that fails is tried once
    more after :attr:`RETRY_PAUSE` seconds (a transient storage error is
    not a bad record), and if it fails again the exception becomes
    :class:`ImageLoadFailure` (chained to the original).

    Args:
        transform (LoadImageFromFile): The loader, e.g. mmpose's
            ``LoadImage``.
    """

    #: Seconds between a failed load and its one retry.
    RETRY_PAUSE: float = 1.0

    def __init__(self, transform: LoadImageFromFile) -> None:
        self.transform = transform

    def __call__(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']`` with the wrapped transform, retrying
        once.

        Raises:
            ImageLoadFailure: the wrapped transform raised twice; the
                message says why (:func:`describe_load_error`).
        """
        try:
            return self.transform(dict(results))
        except Exception:
            time.sleep(self.RETRY_PAUSE)
        try:
            return self.transform(results)
        except Exception as err:
            raise ImageLoadFailure(
                describe_load_error(
                    results['img_path'], err,
                    getattr(self.transform, 'backend_args', None))) from err

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.transform!r})'


def guard_image_loading(pipeline) -> None:
    """Wrap every image-loading transform of a built ``Compose`` pipeline
    in :class:`GuardedImageLoad` (in place; idempotent)."""
    pipeline.transforms = [
        GuardedImageLoad(t) if isinstance(t, LoadImageFromFile) else t
        for t in pipeline.transforms
    ]
