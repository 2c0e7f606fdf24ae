"""Top-down multi-person inference: person boxes (an mmdet detector, a COCO
detection file, given boxes or the whole image) -> one pose per person.

Imported explicitly (``from hourglass_plugin.apis import ...``): it pulls in
mmdet, which training and evaluation do not need.
"""
from .bbox_sources import (BBoxSource, CocoDetectionFile, MMDetPersonDetector,
                           box_problems, check_bboxes, select_person_boxes)
from .image_io import load_image
from .topdown_inferencer import (BACKENDS, HourglassTopdownInferencer,
                                 PersonPose, TopdownResult)
from .visualization import build_pose_visualizer, draw_result

__all__ = [
    'BACKENDS', 'BBoxSource', 'CocoDetectionFile',
    'HourglassTopdownInferencer', 'MMDetPersonDetector', 'PersonPose',
    'TopdownResult', 'box_problems', 'build_pose_visualizer', 'check_bboxes',
    'draw_result', 'load_image', 'select_person_boxes'
]
