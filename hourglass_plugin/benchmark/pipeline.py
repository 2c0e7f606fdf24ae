"""The product's real job timed stage by stage: the top-down demo's work
(``tools/topdown_demo.py --det-json``) on the embedded multi-person images.

Per image, as ``HourglassTopdownInferencer`` + ``draw_result`` do it:

* ``load``: ``apis.load_image`` (decode, EXIF rotation);
* ``boxes``: the detection file's boxes for the image,
  ``select_person_boxes`` (score >= 0.3, NMS 0.3);
* ``crop``: mmpose's test pipeline per box (``GetBBoxCenterScale``,
  ``TopdownAffine``), collation, ``data_preprocessor`` and packing of the
  results -- the inferencer's call minus the two timed stages inside it;
* ``network``: the backend's ``crops -> heatmaps`` on all people of the image
  as one batch, with the config's flip test (2N crops), and, measured apart,
  ``network_noflip`` (N crops, flip test off);
* ``decode``: ``head.decode`` (argmax + refinement) and the mapping back to
  image pixels (``add_pred_to_datasample``);
* ``draw``: mmpose's ``PoseLocalVisualizer`` via ``apis.draw_result``.
"""
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch

STAGES = ('load', 'boxes', 'crop', 'network', 'decode', 'draw')


class _Timed:
    """Wrap a callable and add its wall time to ``clock[key]``."""

    def __init__(self, fn: Callable, clock: Dict[str, float], key: str):
        self.fn, self.clock, self.key = fn, clock, key

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.clock[self.key] += time.perf_counter() - start


def run_pipeline(spec: dict,
                 variants: Sequence[str],
                 data_root: str,
                 threads: int = 1,
                 device: str = 'cpu',
                 passes: int = 2,
                 bbox_thr: float = 0.3) -> List[dict]:
    """Time the top-down demo's work per backend.

    Args:
        spec (dict): A model spec (``config``, ``checkpoint``, ``name``).
        variants (list[str]): ``hourglass_plugin.deploy`` backends
            (``pytorch`` is timed as ``eager``, the same network).
        data_root (str): Holds ``coco_multi/`` (images, ``test_coco.json``,
            ``test_coco_det_AP_H_56.json``); also calibrates ``int8``.
        threads (int): torch and ONNX Runtime threads.
        device (str): ``'cpu'`` or ``'cuda[:i]'``.
        passes (int): Timed passes over the images (after one untimed).
        bbox_thr (float): Detection score threshold (the demo's default).

    Returns:
        list[dict]: Per variant: ``images``, ``people``, ``images_per_s``,
        ``people_per_s``, ``ms_per_image`` (stage -> ms), ``share`` (stage
        -> fraction of the total with flip test), ``network_noflip_ms``,
        ``dominant`` (the largest stage).

    Raises:
        FileNotFoundError: ``data_root`` has no ``coco_multi`` detection
            file.
    """
    from ..apis import (CocoDetectionFile, HourglassTopdownInferencer,
                        build_pose_visualizer, draw_result, load_image,
                        select_person_boxes)
    coco = Path(data_root) / 'coco_multi'
    det_file = coco / 'test_coco_det_AP_H_56.json'
    if not det_file.is_file():
        raise FileNotFoundError(f'{det_file} not found: --pipeline needs '
                                'the multi-person images and detections')
    images = sorted(coco.glob('*.jpg'))
    source = CocoDetectionFile(det_file, coco / 'test_coco.json')
    torch.set_num_threads(threads)
    records = []
    for variant in variants:
        backend = 'eager' if variant == 'pytorch' else variant
        inferencer = HourglassTopdownInferencer(
            spec['config'],
            spec['checkpoint'],
            device=device,
            backend=backend,
            threads=threads,
            calib_data=data_root)
        model = inferencer.model
        visualizer = build_pose_visualizer(model.cfg, inferencer.dataset_meta)
        clock = dict.fromkeys(STAGES + ('inferencer', 'network_noflip'), 0.0)
        estimator = inferencer.pose_estimator
        estimator.runner = _Timed(estimator.runner, clock, 'network')
        model.head.decode = _Timed(model.head.decode, clock, 'decode')
        model.add_pred_to_datasample = _Timed(model.add_pred_to_datasample,
                                              clock, 'decode')
        people = 0
        for index in range(passes + 1):
            if index == 1:  # the first pass warms up (compile, caches)
                clock.update(dict.fromkeys(clock, 0.0))
                people = 0
            for path in images:
                people += _one_image(path, clock, inferencer, source,
                                     visualizer, load_image,
                                     select_person_boxes, draw_result,
                                     bbox_thr)
        clock['crop'] = clock.pop('inferencer') - clock['network'] - \
            clock['decode']
        total = sum(clock[s] for s in STAGES)
        count = passes * len(images)
        ms = {s: clock[s] * 1e3 / count for s in STAGES}
        records.append(
            dict(
                name=spec['name'],
                variant=variant,
                device=device,
                threads=threads,
                images=len(images),
                people=people // passes,
                images_per_s=count / total,
                people_per_s=people / total,
                ms_per_image=ms,
                share={s: clock[s] / total
                       for s in STAGES},
                network_noflip_ms=clock['network_noflip'] * 1e3 / count,
                dominant=max(STAGES, key=lambda s: clock[s])))
    return records


def _one_image(path, clock, inferencer, source, visualizer, load_image,
               select_person_boxes, draw_result, bbox_thr) -> int:
    """Run and time one image; return its number of people."""
    start = time.perf_counter()
    image = load_image(str(path))
    clock['load'] += time.perf_counter() - start
    start = time.perf_counter()
    boxes, scores = source(image, str(path), None)
    boxes, scores = select_person_boxes(boxes, scores, image.shape[:2],
                                        str(path), bbox_thr, 0.3)
    clock['boxes'] += time.perf_counter() - start
    start = time.perf_counter()
    result = inferencer(image, bboxes=boxes, bbox_scores=scores)
    clock['inferencer'] += time.perf_counter() - start
    start = time.perf_counter()
    draw_result(visualizer, result)
    clock['draw'] += time.perf_counter() - start
    if len(boxes):
        test_cfg = inferencer.model.test_cfg
        flip, test_cfg['flip_test'] = test_cfg.get('flip_test', False), False
        saved = dict(clock)
        try:
            inferencer.forward_pose(image, boxes)
        finally:
            test_cfg['flip_test'] = flip
        clock['network_noflip'] += clock['network'] - saved['network']
        clock.update(network=saved['network'], decode=saved['decode'])
    return len(boxes)


def pipeline_markdown(records: List[dict]) -> str:
    """The pipeline timings as a Markdown table plus one sentence per
    variant naming the dominant stage."""
    head = ('| model | variant | images/s | people/s | ' +
            ' | '.join(f'{s} ms (%)'
                       for s in STAGES) + ' | network w/o flip ms |')
    lines = [head, '|---|---|' + '---:|' * (len(STAGES) + 3)]
    for r in records:
        cells = ' | '.join(f'{r["ms_per_image"][s]:.1f} '
                           f'({r["share"][s]:.0%})' for s in STAGES)
        lines.append(f'| {r["name"]} | {r["variant"]} | '
                     f'{r["images_per_s"]:.2f} | {r["people_per_s"]:.2f} | '
                     f'{cells} | {r["network_noflip_ms"]:.1f} |')
    lines.append('')
    for r in records:
        lines.append(f'- {r["variant"]}: {r["dominant"]} dominates '
                     f'({r["share"][r["dominant"]]:.0%} of the time; '
                     f'{r["images"]} images, {r["people"]} people per pass)')
    return '\n'.join(lines) + '\n'
