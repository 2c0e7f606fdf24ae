"""The product's real job timed stage by stage: the top-down demo's work
(``tools/topdown_demo.py --det-json``) on the embedded multi-person images.

Per image, as ``HourglassTopdownInferencer`` + ``draw_result`` do it:
``load`` (``apis.load_image``), ``boxes`` (the detection file's boxes,
``select_person_boxes``: score >= ``bbox_thr``, NMS 0.3), ``crop`` (the
inferencer's call minus the network and decoding: test pipeline per box,
collation, ``data_preprocessor``, packing), ``network`` (the backend on all
people of the image as one batch, with the config's flip test: 2N crops;
``network_noflip``: the same without flip test, N crops), ``decode``
(``head.decode`` and ``add_pred_to_datasample``) and ``draw`` (mmpose's
``PoseLocalVisualizer`` via ``apis.draw_result``).
"""
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch

STAGES = ('load', 'boxes', 'crop', 'network', 'decode', 'draw')


@contextmanager
def _stage(clock: Dict[str, float], key: str):
    """Add the wall time of the ``with`` block to ``clock[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        clock[key] += time.perf_counter() - start


def _timed(fn: Callable, clock: Dict[str, float], key: str) -> Callable:
    """``fn`` with its wall time added to ``clock[key]`` at every call."""

    def wrapper(*args, **kwargs):
        with _stage(clock, key):
            return fn(*args, **kwargs)

    return wrapper


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
        list[dict]: Per variant: ``images``, ``people`` (per pass),
        ``images_per_s``, ``people_per_s``, ``ms_per_image`` (stage -> ms),
        ``share`` (stage -> fraction of the total), ``network_noflip_ms``,
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
        inferencer = HourglassTopdownInferencer(
            spec['config'],
            spec['checkpoint'],
            device=device,
            backend='eager' if variant == 'pytorch' else variant,
            threads=threads,
            calib_data=data_root)
        model, estimator = inferencer.model, inferencer.pose_estimator
        visualizer = build_pose_visualizer(model.cfg, inferencer.dataset_meta)
        clock = dict.fromkeys(STAGES + ('call', 'network_noflip'), 0.0)
        estimator.runner = _timed(estimator.runner, clock, 'network')
        model.head.decode = _timed(model.head.decode, clock, 'decode')
        model.add_pred_to_datasample = _timed(model.add_pred_to_datasample,
                                              clock, 'decode')
        people = 0
        for index in range(passes + 1):
            if index == 1:  # the first pass warms up (compile, caches)
                clock.update(dict.fromkeys(clock, 0.0))
                people = 0
            for path in images:
                with _stage(clock, 'load'):
                    image = load_image(str(path))
                with _stage(clock, 'boxes'):
                    boxes, scores = select_person_boxes(
                        *source(image, str(path), None), image.shape[:2],
                        str(path), bbox_thr, 0.3)
                with _stage(clock, 'call'):
                    result = inferencer(
                        image, bboxes=boxes, bbox_scores=scores)
                with _stage(clock, 'draw'):
                    draw_result(visualizer, result)
                people += len(boxes)
                if len(boxes):
                    clock['network_noflip'] += _noflip_seconds(
                        inferencer, image, boxes, clock)
        clock['crop'] = clock['call'] - clock['network'] - clock['decode']
        total, count = sum(clock[s] for s in STAGES), passes * len(images)
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
                ms_per_image={s: clock[s] * 1e3 / count
                              for s in STAGES},
                share={s: clock[s] / total
                       for s in STAGES},
                network_noflip_ms=clock['network_noflip'] * 1e3 / count,
                dominant=max(STAGES, key=lambda s: clock[s])))
    return records


def _noflip_seconds(inferencer, image, boxes, clock: Dict[str,
                                                          float]) -> float:
    """The network's seconds on ``boxes`` with the flip test off (the clock's
    ``network`` and ``decode`` are left as they were)."""
    test_cfg, before = inferencer.model.test_cfg, dict(clock)
    flip, test_cfg['flip_test'] = test_cfg.get('flip_test', False), False
    try:
        inferencer.forward_pose(image, boxes)
    finally:
        test_cfg['flip_test'] = flip
    seconds = clock['network'] - before['network']
    clock.update(network=before['network'], decode=before['decode'])
    return seconds


def pipeline_markdown(records: List[dict]) -> str:
    """The pipeline timings as a Markdown table plus one sentence per
    variant naming the dominant stage."""
    lines = [
        '| model | variant | images/s | people/s | ' +
        ' | '.join(f'{s} ms (%)' for s in STAGES) + ' | network w/o flip ms |',
        '|---|---|' + '---:|' * (len(STAGES) + 3)
    ]
    for r in records:
        cells = ' | '.join(f'{r["ms_per_image"][s]:.1f} '
                           f'({r["share"][s]:.0%})' for s in STAGES)
        lines.append(f'| {r["name"]} | {r["variant"]} | '
                     f'{r["images_per_s"]:.2f} | {r["people_per_s"]:.2f} | '
                     f'{cells} | {r["network_noflip_ms"]:.1f} |')
    lines.append('')
    lines += [
        f'- {r["variant"]}: {r["dominant"]} dominates '
        f'({r["share"][r["dominant"]]:.0%} of the time; {r["images"]} '
        f'images, {r["people"]} people per pass)' for r in records
    ]
    return '\n'.join(lines) + '\n'
