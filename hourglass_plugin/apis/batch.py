"""A top-down run over an image, a folder of images or a video: every input
either gives results in the output folder or is listed as failed.

Per input (names: :mod:`.outputs`), coordinates in pixels of the upright
image:

- image: ``<name>.png`` (skeletons, boxes, optional heatmaps) and
  ``<name>.json``: a list with one object per person (``PersonPose.to_dict``:
  ``bbox`` [x1, y1, x2, y2], ``bbox_score``, ``keypoints`` [[x, y] x K],
  ``keypoint_scores`` [K], ``keypoint_names`` [K]); ``[]`` when nobody was
  found;
- video: ``<name>.mp4`` (drawn frames, input frame rate) and ``<name>.json``:
  one entry per frame (frame 0 first), the list of person objects of that
  frame, ``null`` for a frame that failed.

An input that cannot be read or processed (corrupt image, a video that cannot
be opened or holds no frame, an undecodable frame, an unusable box) does not
stop the run: ``error: <message naming the file>`` is printed to stderr, the
other inputs are processed, and :meth:`TopdownBatch.report` lists the
failures and writes them to ``failures.json`` (``[{"input": path, "frame":
index or null, "error": message}]``; a stale one is removed when nothing
fails). With ``fail_fast`` the first failure raises instead.
"""
import mimetypes
import sys
from pathlib import Path
from typing import List, Optional

import cv2
import mmcv
import numpy as np
from mmengine.utils import mkdir_or_exist, track_iter_progress

from .errors import InferenceError
from .outputs import FAILURE_LIST, check_out_dir, output_names, write_json
from .topdown_inferencer import HourglassTopdownInferencer
from .visualization import draw_result

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: Per-input errors: unreadable or undecodable files, unusable boxes.
INPUT_ERRORS = (ValueError, OSError)


def list_inputs(path: str) -> List[Path]:
    """The images of a folder (sorted by name, not recursive), or the single
    input file (an image or a video).

    Raises:
        InferenceError: the path does not exist, or the folder holds no
            image.
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InferenceError(f'input {path} does not exist')
    files = sorted(p for p in root.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InferenceError(f'input folder {path} holds no image '
                             f'({", ".join(IMAGE_SUFFIXES)})')
    return files


def is_video(path: Path) -> bool:
    """Whether a file is a video, by its MIME type (file suffix)."""
    mime = mimetypes.guess_type(str(path))[0]
    return mime is not None and mime.startswith('video')


def open_video(path: Path) -> mmcv.VideoReader:
    """Open a video with ``mmcv.VideoReader`` (OpenCV).

    Raises:
        InferenceError: OpenCV cannot open it (empty, truncated or not a
            video file), or it holds no frame.
    """
    capture = cv2.VideoCapture(str(path))
    opened = capture.isOpened()
    capture.release()
    if not opened:
        raise InferenceError(f'cannot open video {path}: empty, truncated '
                             'or not a video file')
    video = mmcv.VideoReader(str(path))
    if len(video) == 0:
        raise InferenceError(f'video {path} holds no frame')
    return video


class TopdownBatch:
    """The inputs and outputs of one top-down run, checked before any model
    is built, and the run itself.

    Args:
        input_path (str): an image, a folder of images (see
            :func:`list_inputs`) or a video.
        out_dir (str): output folder, created when missing; results are
            named as :mod:`.outputs` says.
        bboxes (np.ndarray, optional): (N, 4) person boxes ``[x1, y1, x2,
            y2]`` in image pixels for every image or frame; None lets the
            inferencer find them.
        fail_fast (bool): raise at the first failed input instead of going
            on. Defaults to False.
        draw_heatmap (bool): draw the heatmaps below the image (the
            inferencer must keep them, ``output_heatmaps=True``).
        draw_bbox (bool): draw person boxes. Defaults to True.
        kpt_thr (float): keypoints with a lower score are not drawn.

    Attributes:
        inputs (list[Path]): the input files.
        video (Path | None): the input when it is a video.
        names (dict): input -> file name of its results, without suffix
            (:func:`~.outputs.output_names`).
        failure_list (Path): ``out_dir/failures.json``.
        num_inputs (int): images, or frames of the video once it was opened.

    Raises:
        InferenceError: the input does not exist or holds no image, or
            ``out_dir`` would put results among the inputs
            (:func:`~.outputs.check_out_dir`).
    """

    def __init__(self,
                 input_path: str,
                 out_dir: str,
                 bboxes: Optional[np.ndarray] = None,
                 fail_fast: bool = False,
                 draw_heatmap: bool = False,
                 draw_bbox: bool = True,
                 kpt_thr: float = 0.3) -> None:
        self.inputs = list_inputs(input_path)
        self.video = next((p for p in self.inputs if is_video(p)), None)
        self.out_dir = Path(out_dir)
        self.names = output_names(self.inputs)
        suffixes = ('.mp4', '.json') if self.video else ('.png', '.json')
        self.failure_list = self.out_dir / FAILURE_LIST
        outputs = [
            self.out_dir / f'{name}{suffix}' for name in self.names.values()
            for suffix in suffixes
        ]
        folder = Path(input_path) if Path(input_path).is_dir() else None
        check_out_dir(out_dir, [*outputs, self.failure_list], self.inputs,
                      folder)
        self.bboxes = bboxes
        self.fail_fast = fail_fast
        self.draw_kwargs = dict(
            draw_heatmap=draw_heatmap, draw_bbox=draw_bbox, kpt_thr=kpt_thr)
        self.num_inputs = len(self.inputs)

    def output(self, path: Path, suffix: str) -> str:
        """The output file of input ``path`` with ``suffix``."""
        return str(self.out_dir / f'{self.names[path]}{suffix}')

    def run(self, inferencer: HourglassTopdownInferencer,
            visualizer) -> List[dict]:
        """Estimate, draw and write the poses of every input.

        Args:
            inferencer (HourglassTopdownInferencer): the pose inferencer.
            visualizer (PoseLocalVisualizer): from
                :func:`~.visualization.build_pose_visualizer`.

        Returns:
            list[dict]: one failure record (``input``, ``frame``, ``error``)
            per failed image or frame.

        Raises:
            InferenceError: with ``fail_fast``, the first failure.
            OSError: a result cannot be written (permissions, full disk).
        """
        mkdir_or_exist(str(self.out_dir))
        if self.video is not None:
            return self._run_video(inferencer, visualizer, self.video)
        failures = []
        files = self.inputs
        for path in (track_iter_progress(files) if len(files) > 1 else files):
            try:
                result = inferencer(str(path), bboxes=self.bboxes)
            except INPUT_ERRORS as err:
                failures.append(self._failure(path, err))
                continue
            drawing = draw_result(visualizer, result, **self.draw_kwargs)
            mmcv.imwrite(mmcv.rgb2bgr(drawing), self.output(path, '.png'))
            write_json([p.to_dict() for p in result.persons],
                       self.output(path, '.json'))
        return failures

    def _run_video(self, inferencer: HourglassTopdownInferencer, visualizer,
                   path: Path) -> List[dict]:
        """Write ``<name>.mp4`` and ``<name>.json`` (one person list per
        frame).

        Frames drawn without a heatmap panel (no person) are padded with
        black below when heatmaps are drawn, to keep the frame size constant.
        A frame that cannot be decoded is left out of the ``.mp4``; one whose
        boxes are unusable is written undrawn; both get ``null`` in the
        ``.json``. A video that cannot be opened or holds no frame is one
        failure and writes nothing.
        """
        try:
            video = open_video(path)
        except InferenceError as err:
            return [self._failure(path, err)]
        self.num_inputs = len(video)
        heatmap = self.draw_kwargs['draw_heatmap']
        out_size = (video.width, video.height * (2 if heatmap else 1))
        writer = cv2.VideoWriter(
            self.output(path, '.mp4'), cv2.VideoWriter_fourcc(*'mp4v'),
            video.fps, out_size)
        frames, failures = [], []
        try:
            for index in track_iter_progress(range(len(video))):
                frame = video.read()
                try:
                    if frame is None:
                        raise ValueError(f'cannot decode frame {index} of '
                                         f'{len(video)} of video {path}')
                    result = inferencer(frame, bboxes=self.bboxes)
                except INPUT_ERRORS as err:
                    failures.append(self._failure(path, err, index))
                    frames.append(None)
                    drawing = frame
                else:
                    frames.append([p.to_dict() for p in result.persons])
                    drawing = mmcv.rgb2bgr(
                        draw_result(visualizer, result, **self.draw_kwargs))
                if drawing is not None:
                    pad = out_size[1] - drawing.shape[0]
                    writer.write(
                        cv2.copyMakeBorder(drawing, 0, pad, 0, 0,
                                           cv2.BORDER_CONSTANT))
        finally:
            writer.release()
        write_json(frames, self.output(path, '.json'))
        return failures

    def _failure(self,
                 path: Path,
                 err: Exception,
                 frame: Optional[int] = None) -> dict:
        """A failure record; prints ``error: <message>`` to stderr.

        The message names the input file (prefixed when the error does not).

        Raises:
            InferenceError: with ``fail_fast``, carrying the message.
        """
        message = str(err)
        if str(path) not in message and path.name not in message:
            message = f'{path}: {message}'
        if frame is not None:
            message = f'frame {frame}: {message}'
        if self.fail_fast:
            raise InferenceError(message) from err
        print(f'error: {message}', file=sys.stderr)
        return dict(input=str(path), frame=frame, error=message)

    def report(self, failures: List[dict]) -> None:
        """Write the failures to ``failures.json`` and list them on stderr
        (``<k> of <n> inputs failed (listed in <path>):`` and one line each);
        with none, remove a ``failures.json`` left by an earlier run.

        Raises:
            OSError: the list cannot be written.
        """
        if not failures:
            self.failure_list.unlink(missing_ok=True)
            return
        write_json(failures, self.failure_list)
        print(
            f'{len(failures)} of {self.num_inputs} inputs failed (listed in '
            f'{self.failure_list}):',
            *[f'  {f["error"]}' for f in failures],
            sep='\n',
            file=sys.stderr)
