"""The product's real job timed stage by stage: the top-down demo's work
(``tools/topdown_demo.py --det-json``) on the embedded multi-person images.

Per image, as ``HourglassTopdownInferencer`` + ``draw_result`` do it:
``load`` (``apis.load_image``), ``boxes`` (``select_person_boxes`` on the
detection file's boxes: score >= ``bbox_thr``, NMS 0.3), ``crop`` (the
inferencer's call minus network and decoding: test pipeline per box,
collation, ``data_preprocessor``, packing), ``network`` (the backend on all
people of the image in one batch, with the config's flip test: 2N crops;
``network_noflip``: N crops, flip test off), ``decode`` (``head.decode``,
``add_pred_to_datasample``), ``draw`` (``apis.draw_result``).
"""
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch

STAGES = ('load', 'boxes', 'crop', 'network', 'decode', 'draw')


def _timed(fn: Callable, clock: Dict[str, float], key: str) -> Callable:
    """``fn`` with its wall time added to ``clock[key]`` at every call."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            clock[key] += time.perf_counter() - start

    return wrapper


def run_pipeline(spec: dict,
                 variants: Sequence[str],
                 data_root: str,
                 threads: int = 1,
                 device: str = 'cpu',
                 passes: int = 2,
                 bbox_thr: float = 0.3) -> List[dict]:
    """Time the top-down demo's work per backend (``variants``; ``pytorch``
    timed as ``eager``) of one model spec (``config``, ``checkpoint``,
    ``name``) on ``data_root/coco_multi`` (images and
    ``test_coco_det_AP_H_56.json``; ``data_root`` also calibrates ``int8``):
    ``passes`` timed passes after one untimed, ``threads`` threads.

    Returns:
        list[dict]: Per variant: ``images``, ``people`` (per pass),
        ``images_per_s``, ``people_per_s``, ``ms_per_image`` (stage -> ms),
        ``share`` (stage -> fraction of the total), ``network_noflip_ms``,
        ``dominant`` (the largest stage).

    Raises:
        FileNotFoundError: No ``coco_multi`` detection file.
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
        infer = HourglassTopdownInferencer(
            spec['config'],
            spec['checkpoint'],
            device,
            backend='eager' if variant == 'pytorch' else variant,
            threads=threads,
            calib_data=data_root)
        model, test_cfg = infer.model, infer.model.test_cfg
        clock = dict.fromkeys(STAGES + ('call', 'network_noflip'), 0.0)
        runner = infer.pose_estimator
        runner.runner = _timed(runner.runner, clock, 'network')
        for owner, name in ((model.head, 'decode'),
                            (model, 'add_pred_to_datasample')):
            setattr(owner, name, _timed(getattr(owner, name), clock, 'decode'))
        load = _timed(load_image, clock, 'load')
        pick = _timed(select_person_boxes, clock, 'boxes')
        call = _timed(infer, clock, 'call')
        draw = _timed(draw_result, clock, 'draw')
        visualizer = build_pose_visualizer(model.cfg, infer.dataset_meta)
        people = 0
        for index in range(passes + 1):
            if index == 1:  # the first pass warms up (compile, caches)
                clock.update(dict.fromkeys(clock, 0.0))
                people = 0
            for path in map(str, images):
                image = load(path)
                boxes, scores = pick(*source(image, path, None),
                                     image.shape[:2], path, bbox_thr, 0.3)
                draw(visualizer, call(image, bboxes=boxes, bbox_scores=scores))
                people += len(boxes)
                if len(boxes):  # the network again, without flip test
                    before, flip = dict(clock), test_cfg.get('flip_test')
                    test_cfg['flip_test'] = False
                    infer.forward_pose(image, boxes)
                    test_cfg['flip_test'] = flip
                    clock.update(
                        network=before['network'],
                        decode=before['decode'],
                        network_noflip=before['network_noflip'] +
                        clock['network'] - before['network'])
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
                dominant=max(STAGES, key=clock.get)))
    return records


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
    return '\n'.join(lines + [''] + [
        f'- {r["variant"]}: {r["dominant"]} dominates '
        f'({r["share"][r["dominant"]]:.0%} of the time; {r["images"]} '
        f'images, {r["people"]} people per pass)' for r in records
    ]) + '\n'
