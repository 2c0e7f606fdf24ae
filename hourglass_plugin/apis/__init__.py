"""Top-down multi-person inference: person boxes (an mmdet detector, a COCO
detection file, given boxes or the whole image) -> one pose per person, for
one image (:class:`HourglassTopdownInferencer`) or for an image, a folder or
a video written to an output folder (:class:`TopdownBatch`); the job's time
stage by stage (:func:`time_topdown_stages`).

Imported explicitly (``from hourglass_plugin.apis import ...``): it pulls in
mmdet, which training and evaluation do not need.
"""
from .batch import TopdownBatch, is_video, list_inputs, open_video
from .bbox_sources import (BBoxSource, CocoDetectionFile, MMDetPersonDetector,
                           box_problems, check_bboxes, select_person_boxes)
from .errors import InferenceError
from .image_io import load_image
from .outputs import FAILURE_LIST, check_out_dir, output_names
from .stage_timing import stage_timing_markdown, time_topdown_stages
from .topdown_inferencer import (BACKENDS, HourglassTopdownInferencer,
                                 PersonPose, TopdownResult)
from .visualization import build_pose_visualizer, draw_result

__all__ = [
    'BACKENDS', 'BBoxSource', 'CocoDetectionFile', 'FAILURE_LIST',
    'HourglassTopdownInferencer', 'InferenceError', 'MMDetPersonDetector',
    'PersonPose', 'TopdownBatch', 'TopdownResult', 'box_problems',
    'build_pose_visualizer', 'check_bboxes', 'check_out_dir', 'draw_result',
    'is_video', 'list_inputs', 'load_image', 'open_video', 'output_names',
    'select_person_boxes', 'stage_timing_markdown', 'time_topdown_stages'
]
