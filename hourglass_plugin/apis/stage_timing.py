"""Where the time of the top-down job goes, stage by stage, as
``tools/topdown_demo.py --det-json`` works (inferencer + :func:`draw_result`).

Per image: ``load`` (:func:`load_image`); ``boxes`` (the bbox source, then
:func:`select_person_boxes` at the inferencer's ``bbox_thr`` and ``nms_thr``);
``crop`` (mmpose's test pipeline per box, collation, ``data_preprocessor``,
packing: the inferencer's call minus the next two); ``network`` (crops ->
heatmaps, all people of the image as one batch, with the config's flip test);
``decode`` (``head.decode`` and ``add_pred_to_datasample``, to image pixels);
``draw`` (mmpose's ``PoseLocalVisualizer``).
"""
import time
from contextlib import ExitStack
from typing import Dict, List, Optional, Sequence

import torch

from .bbox_sources import BBoxSource, select_person_boxes
from .image_io import load_image
from .topdown_inferencer import HourglassTopdownInferencer
from .visualization import build_pose_visualizer, draw_result

STAGES = ('load', 'boxes', 'crop', 'network', 'decode', 'draw')


def _time_calls(stack: ExitStack, obj, name: str, sink: List[Dict[str, float]],
                key: str) -> None:
    """Until ``stack`` closes, add the time of ``obj.<name>()`` calls to
    ``sink[0][key]`` (CUDA synchronised)."""
    fn = getattr(obj, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            if torch.cuda.is_initialized():
                torch.cuda.synchronize()
            sink[0][key] += time.perf_counter() - start

    undo = (setattr, obj, name, fn) if name in vars(obj) else (delattr, obj,
                                                               name)
    setattr(obj, name, timed)
    stack.callback(*undo)


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
    sink = [warm]
    with ExitStack() as stack:
        for obj, attr, key in ((inferencer.pose_estimator, 'predict',
                                'predict'), (model.head, 'decode', 'decode'),
                               (model, 'add_pred_to_datasample', 'decode')):
            _time_calls(stack, obj, attr, sink, key)
        stack.callback(test_cfg.update, flip_test=flip)
        for sink[0] in [warm] + [clock] * passes + [noflip]:  # the wrappers'
            test_cfg['flip_test'] = flip and sink[0] is not noflip
            people = sum(
                _one_image(str(path), inferencer, source, visualizer, sink[0])
                for path in images)
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


def _one_image(path: str, inferencer: HourglassTopdownInferencer,
               source: BBoxSource, visualizer, clock: Dict[str, float]) -> int:
    """Run one image, adding each stage's time to ``clock`` (the whole
    inferencer call to ``crop``); return its number of people."""
    ticks = [time.perf_counter()]

    def lap(stage: str) -> None:
        ticks.append(time.perf_counter())
        clock[stage] += ticks[-1] - ticks[-2]

    image = load_image(path)
    lap('load')
    boxes, scores = source(image, path, None)
    boxes, scores = select_person_boxes(boxes, scores, image.shape[:2], path,
                                        inferencer.bbox_thr,
                                        inferencer.nms_thr)
    lap('boxes')
    result = inferencer(image, bboxes=boxes, bbox_scores=scores)
    lap('crop')
    draw_result(visualizer, result)
    lap('draw')
    return len(boxes)


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
