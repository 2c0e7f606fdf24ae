"""The top-down job timed stage by stage (``apis.time_topdown_stages``) and
``tools/benchmark.py --pipeline`` on the multi-person images of data/ with
their detection file; the sample network with random weights. No timing is
asserted: only how the figures relate."""
import json
import math
import time
from collections import defaultdict

import numpy as np
import pytest
from mmpose.evaluation.functional import nms

from hourglass_plugin.apis import (CocoDetectionFile,
                                   HourglassTopdownInferencer,
                                   stage_timing_markdown, time_topdown_stages)
from hourglass_plugin.apis.stage_timing import STAGES
from tests.conftest import load_tool

SAMPLE = 'configs/sample/newell_hourglass2_sample_128.py'
DET = 'test_coco_det_AP_H_56.json'


@pytest.fixture(scope='module')
def detected_people(coco_dir) -> int:
    """People of the detection file on the images: score >= 0.3, then
    mmpose's NMS at IoU 0.3 per image (the demo's defaults)."""
    ann = json.loads((coco_dir / 'test_coco.json').read_text())
    images = {im['id'] for im in ann['images']}
    dets = defaultdict(list)
    for d in json.loads((coco_dir / DET).read_text()):
        if d['category_id'] == 1 and d['score'] >= 0.3:
            x, y, w, h = d['bbox']
            dets[d['image_id']].append([x, y, x + w, y + h, d['score']])
    return sum(len(nms(np.array(dets[i]), 0.3)) for i in images if dets[i])


def test_stages_add_up_and_count_the_detected_people(repo_root, coco_dir,
                                                     detected_people):
    inferencer = HourglassTopdownInferencer(
        repo_root / SAMPLE, device='cpu', backend='eager')
    runner = inferencer.pose_estimator.runner
    images = sorted(str(p) for p in coco_dir.glob('*.jpg'))
    source = CocoDetectionFile(coco_dir / DET, coco_dir / 'test_coco.json')
    start = time.perf_counter()
    rec = time_topdown_stages(inferencer, images, source, passes=1, name='hg')
    wall = time.perf_counter() - start

    assert (rec['name'], rec['variant'], rec['device']) == ('hg', 'eager',
                                                            'cpu')
    assert rec['images'] == len(images) == 4
    assert rec['people'] == detected_people == 19
    ms = rec['ms_per_image']
    assert list(ms) == list(rec['share']) == list(STAGES)
    # crop = call - (network + decode), network = predict - decode: a stage
    # counted twice would drive another below zero
    assert all(v >= 0 for v in ms.values())
    total_s = sum(ms.values()) * rec['images'] * 1 / 1e3  # 1 pass
    assert total_s == pytest.approx(rec['images'] / rec['images_per_s'])
    assert rec['people_per_s'] == pytest.approx(rec['images_per_s'] *
                                                rec['people'] / rec['images'])
    assert total_s < wall  # plus the warm-up and the flip-test-off pass
    assert math.fsum(rec['share'].values()) == pytest.approx(1)
    for stage in STAGES:
        assert rec['share'][stage] == pytest.approx(ms[stage] /
                                                    sum(ms.values()))
    assert rec['dominant'] == max(ms, key=ms.get)
    assert 0 < rec['network_noflip_ms'] * rec['images'] / 1e3 < wall
    # the inferencer is left as it was
    assert inferencer.pose_estimator.runner is runner
    assert 'predict' not in vars(inferencer.pose_estimator)
    assert not {'decode', 'forward'} & set(vars(inferencer.model.head))
    assert inferencer.model.test_cfg['flip_test'] is True

    text = stage_timing_markdown([rec])
    assert f'| hg | eager | {rec["images_per_s"]:.2f} |' in text
    assert text.endswith(
        f'- eager: {rec["dominant"]} dominates '
        f'({rec["share"][rec["dominant"]]:.0%} of the time; 4 images, '
        f'19 people per pass)\n')
    with pytest.raises(ValueError, match='passes 0'):
        time_topdown_stages(inferencer, images, source, passes=0)


def test_pipeline_mode_writes_its_results(repo_root, data_dir, tmp_path,
                                          detected_people):
    code = load_tool('benchmark').main([
        str(repo_root / SAMPLE), '--pipeline', '--variants', 'pytorch',
        '--threads', '1', '--calib-data',
        str(data_dir), '--out-dir',
        str(tmp_path)
    ])
    assert code == 0
    saved = json.loads((tmp_path / 'pipeline.json').read_text())
    [rec] = saved['records']
    assert (rec['variant'], rec['threads']) == ('pytorch', 1)
    assert rec['people'] == detected_people
    assert '| newell_hourglass2_sample_128 | pytorch |' in (
        tmp_path / 'pipeline.md').read_text()


@pytest.mark.parametrize('argv, message', [
    (['a', 'b', '--pipeline'], '--pipeline times one MODEL, got 2'),
    (['a', '--pipeline', '--repeats', '3'
      ], '--repeats does not apply to the pipeline mode'),
    (['a', '--training', '--pipeline'
      ], '--pipeline does not apply to the training mode'),
])
def test_pipeline_mode_mismatches_are_refused(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        load_tool('benchmark').parse_args(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f'error: {message}') and err.count('error:') == 1
