"""Drawing top-down results with mmpose's ``PoseLocalVisualizer``."""
import copy
import itertools
from typing import Dict

import mmcv
import numpy as np
from mmengine.config import Config
from mmpose.registry import VISUALIZERS
from mmpose.visualization import PoseLocalVisualizer

from .topdown_inferencer import TopdownResult

# mmengine builds visualizers as named global instances (``get_instance``):
# a fresh name per build gives a fresh visualizer.
_VISUALIZER_IDS = itertools.count()


def build_pose_visualizer(pose_cfg: Config,
                          dataset_meta: Dict,
                          radius: int = 3,
                          thickness: int = 1,
                          alpha: float = 0.8) -> PoseLocalVisualizer:
    """Build the pose config's visualizer (or a plain
    ``PoseLocalVisualizer``) for drawing only.

    As mmpose's ``demo/topdown_demo_with_mmdet.py``: the ``visualizer`` entry
    of the config with the given keypoint radius, link thickness and box
    transparency, and the skeleton and colours of ``dataset_meta``. Its
    storage backends are removed: callers save the drawn image themselves.

    Args:
        pose_cfg (Config): the pose model's config (``model.cfg``).
        dataset_meta (dict): the pose model's ``dataset_meta``.
        radius (int): keypoint radius in pixels. Defaults to 3.
        thickness (int): link width in pixels. Defaults to 1.
        alpha (float): box transparency. Defaults to 0.8.

    Returns:
        PoseLocalVisualizer: a new visualizer.
    """
    cfg = copy.deepcopy(
        pose_cfg.get('visualizer', dict(type='PoseLocalVisualizer')))
    cfg.update(
        name=f'hourglass_topdown_{next(_VISUALIZER_IDS)}',
        vis_backends=None,
        save_dir=None,
        radius=radius,
        line_width=thickness,
        alpha=alpha)
    visualizer = VISUALIZERS.build(cfg)
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def draw_result(visualizer: PoseLocalVisualizer,
                result: TopdownResult,
                draw_heatmap: bool = False,
                draw_bbox: bool = True,
                kpt_thr: float = 0.3) -> np.ndarray:
    """Draw the skeletons (and boxes, heatmaps) of one image's people.

    Args:
        visualizer (PoseLocalVisualizer): from :func:`build_pose_visualizer`.
        result (TopdownResult): the image's poses.
        draw_heatmap (bool): add the merged heatmaps below the image (when
            the result holds them). Defaults to False.
        draw_bbox (bool): draw person boxes. Defaults to True.
        kpt_thr (float): keypoints (and their links) with a lower score are
            not drawn. Defaults to 0.3.

    Returns:
        np.ndarray: the drawing, (H, W, 3) RGB ``uint8``; (2H, W, 3) when
        heatmaps are drawn. An image without people is returned plain.
    """
    visualizer.add_datasample(
        'result',
        mmcv.bgr2rgb(result.image),
        data_sample=result.data_sample,
        draw_gt=False,
        draw_heatmap=draw_heatmap,
        draw_bbox=draw_bbox,
        kpt_thr=kpt_thr,
        show=False)
    return visualizer.get_image()
