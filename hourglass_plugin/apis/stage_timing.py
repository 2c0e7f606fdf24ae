"""Where the time of the top-down job goes, stage by stage, as
``tools/topdown_demo.py --det-json`` works (inferencer + :func:`draw_result`).

Per image: ``load`` (:func:`load_image`); ``boxes`` (the bbox source, then
:func:`select_person_boxes` at the inferencer's ``bbox_thr`` and ``nms_thr``);
``crop`` (mmpose's test pipeline per box, collation, ``data_preprocessor``,
packing: the inferencer's call minus the next two); ``network`` (crops ->
heatmaps, all people of the image as one batch, with the config's flip test:
the pose estimator's ``predict`` minus ``decode``, i.e. the deploy backend's
runner or the PyTorch model's forward); ``decode`` (``head.decode`` and
``add_pred_to_datasample``, to image pixels); ``draw`` (mmpose's
``PoseLocalVisualizer``).
"""
import time
from contextlib import ExitStack
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .bbox_sources import BBoxSource, select_person_boxes
from .image_io import load_image
from .topdown_inferencer import HourglassTopdownInferencer
from .visualization import build_pose_visualizer, draw_result

STAGES = ('load', 'boxes', 'crop', 'network', 'decode', 'draw')


def _timer(fn: Callable, sink: List[Dict[str, float]], key: str) -> Callable:
    """``fn`` adding the time of each call to ``sink[0][key]`` (CUDA
    synchronised)."""

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if torch.cuda.is_initialized():
                torch.cuda.synchronize()
            sink[0][key] += time.perf_counter() - start

    return timed


def time_topdown_stages(inferencer: HourglassTopdownInferencer,
                        images: Sequence[str],
                        bbox_source: Optional[BBoxSource] = None,
                        passes: int = 2,
                        name: str = '') -> dict:
    """Time the top-down job on ``images``: one pass of warm-up, ``passes``
    timed ones, then one with the flip test off (``network_noflip_ms``).
    The inferencer (any backend) is left as it was.

    Args:
        inferencer (HourglassTopdownInferencer): The job's inferencer.
        images (list[str]): Image files, found by path by the bbox source.
        bbox_source (BBoxSource, optional): Default: the inferencer's.
        passes (int): Timed passes over ``images``.
        name (str): The model's name in the record.

    Returns:
        dict: ``name``, ``variant`` (backend), ``device``, ``threads``
        (torch's), ``images``, ``people`` (per pass), ``images_per_s``,
        ``people_per_s``, ``ms_per_image`` and ``share`` (stage -> ms per
        image, fraction of the total), ``network_noflip_ms`` (per image),
        ``dominant`` (the largest stage).

    Raises:
        ValueError: No bbox source, no images or ``passes < 1``.
    """
    source = bbox_source or inferencer.bbox_source
    if source is None or not images or passes < 1:
        raise ValueError(f'time_topdown_stages: bbox source {source}, '
                         f'{len(images)} images, passes {passes}')
    model, test_cfg = inferencer.model, inferencer.model.test_cfg
    flip = test_cfg.get('flip_test', False)
    visualizer = build_pose_visualizer(model.cfg, inferencer.dataset_meta)
    warm, clock, noflip = (
        dict.fromkeys(STAGES + ('predict', ), 0.0) for _ in range(3))
    sink = [warm]  # the clock the timers add to

    def boxes_of(image: np.ndarray, path: str) -> Tuple[np.ndarray, ...]:
        boxes, scores = source(image, path, None)
        return select_person_boxes(boxes, scores, image.shape[:2], path,
                                   inferencer.bbox_thr, inferencer.nms_thr)

    load, boxes_of, call, draw = (  # whole inferencer calls go to 'crop'
        _timer(f, sink, k)
        for f, k in ((load_image, 'load'), (boxes_of, 'boxes'),
                     (inferencer, 'crop'), (draw_result, 'draw')))
    with ExitStack() as stack:
        for obj, attr, key in ((inferencer.pose_estimator, 'predict',
                                'predict'), (model.head, 'decode', 'decode'),
                               (model, 'add_pred_to_datasample', 'decode')):
            fn = getattr(obj, attr)
            if attr in vars(obj):  # callbacks run last in, first out
                stack.callback(setattr, obj, attr, fn)
            stack.callback(vars(obj).pop, attr)
            setattr(obj, attr, _timer(fn, sink, key))
        stack.callback(test_cfg.update, flip_test=flip)
        for sink[0] in [warm] + [clock] * passes + [noflip]:
            test_cfg['flip_test'], people = flip and sink[0] is not noflip, 0
            for path in map(str, images):
                image = load(path)
                boxes, scores = boxes_of(image, path)
                draw(visualizer, call(image, bboxes=boxes, bbox_scores=scores))
                people += len(boxes)
    for c in (clock, noflip):  # predict = network + decode
        c.update(
            crop=c['crop'] - c['predict'], network=c['predict'] - c['decode'])
    total, count = sum(clock[s] for s in STAGES), passes * len(images)
    return dict(
        name=name,
        variant=inferencer.backend,
        device=inferencer.device,
        threads=torch.get_num_threads(),
        images=len(images),
        people=people,
        images_per_s=count / total,
        people_per_s=people * passes / total,
        ms_per_image={s: clock[s] * 1e3 / count
                      for s in STAGES},
        share={s: clock[s] / total
               for s in STAGES},
        network_noflip_ms=noflip['network'] * 1e3 / len(images),
        dominant=max(STAGES, key=clock.get))


def stage_timing_markdown(records: List[dict]) -> str:
    """Records of :func:`time_topdown_stages` as a Markdown table, then one
    line per record naming its dominant stage."""
    lines = [
        '| model | variant | images/s | people/s | ' +
        ' | '.join(f'{s} ms (%)' for s in STAGES) + ' | network w/o flip ms |',
        '|---|---|' + '---:|' * (len(STAGES) + 3)
    ]
    for r in records:
        cells = ' | '.join(f'{r["ms_per_image"][s]:.1f} ({r["share"][s]:.0%})'
                           for s in STAGES)
        lines.append(f'| {r["name"]} | {r["variant"]} | '
                     f'{r["images_per_s"]:.2f} | {r["people_per_s"]:.2f} | '
                     f'{cells} | {r["network_noflip_ms"]:.1f} |')
    return '\n'.join(lines + [''] + [
        f'- {r["variant"]}: {r["dominant"]} dominates '
        f'({r["share"][r["dominant"]]:.0%} of the time; {r["images"]} images, '
        f'{r["people"]} people per pass)' for r in records
    ]) + '\n'
