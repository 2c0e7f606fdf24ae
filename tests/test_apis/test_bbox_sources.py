"""Person boxes: COCO detection files, box checks, selection (threshold +
NMS), and an mmdet detector built from configs/mmdet/ with random weights."""
import json
from pathlib import Path

import numpy as np
import pytest
from topdown_helpers import fix_rtmdet_head, kept_person_boxes

from hourglass_plugin.apis import (CocoDetectionFile, MMDetPersonDetector,
                                   box_problems, check_bboxes, load_image,
                                   select_person_boxes)

IMAGE_IDS = (785, 40083, 196141, 197388)


def _records(det_file: Path, image_id: int):
    return [
        r for r in json.loads(det_file.read_text())
        if r['image_id'] == image_id
    ]


def test_det_file_matched_by_file_stem(det_file, coco_dir):
    source = CocoDetectionFile(det_file)
    img = np.zeros((1, 1, 3), np.uint8)
    for image_id in IMAGE_IDS:
        boxes, scores = source(img, str(coco_dir / f'{image_id:012d}.jpg'))
        records = _records(det_file, image_id)
        assert len(boxes) == len(records) > 0
        # xywh -> xyxy, in file order
        first = records[0]['bbox']
        np.testing.assert_allclose(
            boxes[0],
            [first[0], first[1], first[0] + first[2], first[1] + first[3]],
            rtol=1e-6)
        np.testing.assert_allclose(
            scores, [r['score'] for r in records], rtol=1e-6)


def test_det_file_matched_through_annotation_file(det_file, coco_dir,
                                                  tmp_path):
    # a copy of the image under a non-COCO name, listed in an annotation file
    ann = dict(images=[dict(id=40083, file_name='street.jpg')])
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    source = CocoDetectionFile(det_file, tmp_path / 'ann.json')
    img = np.zeros((1, 1, 3), np.uint8)
    boxes, _ = source(img, str(tmp_path / 'street.jpg'))
    assert len(boxes) == len(_records(det_file, 40083))
    with pytest.raises(ValueError, match='000000000785.jpg.*not listed'):
        source(img, str(coco_dir / '000000000785.jpg'))
    # without the annotation file the name cannot be matched
    with pytest.raises(ValueError, match='street.jpg.*--det-ann-file'):
        CocoDetectionFile(det_file)(img, 'street.jpg')


def test_det_file_image_id_and_unknown_ids(det_file):
    source = CocoDetectionFile(det_file)
    img = np.zeros((1, 1, 3), np.uint8)
    assert len(source(img, image_id=785)[0]) == len(_records(det_file, 785))
    boxes, scores = source(img, image_id=1)  # an image nobody was found in
    assert boxes.shape == (0, 4) and scores.shape == (0, )
    with pytest.raises(ValueError, match='image_id'):
        source(img)
    # category filter: COCO person is category 1, nothing else in the file
    assert len(CocoDetectionFile(det_file, category_id=2)(img, None,
                                                          785)[0]) == 0


def test_bad_det_file_names_file_and_record(tmp_path):
    good = dict(image_id=1, bbox=[0, 0, 5, 5], score=0.9, category_id=1)
    path = tmp_path / 'det.json'
    path.write_text(json.dumps([good, dict(good, bbox=[0, 0, 5])]))
    with pytest.raises(ValueError, match=r'det.json: record 1'):
        CocoDetectionFile(path)
    path.write_text(json.dumps([good, good, {'image_id': 3}]))
    with pytest.raises(ValueError, match=r'det.json: record 2'):
        CocoDetectionFile(path)
    path.write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match='list of detection records'):
        CocoDetectionFile(path)
    path.write_text('[{')
    with pytest.raises(ValueError, match='not valid JSON'):
        CocoDetectionFile(path)


@pytest.mark.parametrize('image_id', IMAGE_IDS)
def test_selection_matches_an_independent_count(det_file, coco_dir, image_id):
    """score >= 0.3, then NMS at IoU 0.3: same boxes as mmcv's compiled NMS
    (offset 1) on the file's records."""
    source = CocoDetectionFile(det_file)
    img = np.zeros((1, 1, 3), np.uint8)
    height, width = load_image(coco_dir / f'{image_id:012d}.jpg').shape[:2]
    boxes, scores = select_person_boxes(*source(img, None, image_id),
                                        (height, width), 'img', 0.3, 0.3)
    expected = kept_person_boxes(det_file, image_id, 0.3, 0.3)
    assert len(boxes) == len(expected)
    np.testing.assert_allclose(
        sorted(boxes.tolist()), sorted(expected.tolist()), rtol=1e-6)
    assert np.all(np.diff(scores) <= 0)  # by descending score


def test_nms_removes_boxes_on_these_images(det_file):
    """The threshold and NMS both act on the real data (so the counts above
    check both rules)."""
    records = json.loads(det_file.read_text())
    above = sum(r['score'] >= 0.3 for r in records)
    kept = sum(
        len(kept_person_boxes(det_file, i, 0.3, 0.3)) for i in IMAGE_IDS)
    assert len(records) > above > kept


def test_box_problems():
    boxes = np.array([[10, 10, 20, 30], [-5, -5, 20, 30], [10, 10, 10, 30],
                      [10, 30, 20, 10], [200, 10, 300, 30], [0, np.nan, 5, 5],
                      [10, 10, 11, 11]], np.float32)
    problems = box_problems(boxes, (100, 100))
    assert problems[0] is None and problems[1] is None  # partly outside: ok
    assert 'zero or negative area' in problems[2]
    assert 'zero or negative area' in problems[3]
    assert 'outside the 100x100 image' in problems[4]
    assert 'not finite' in problems[5]
    assert problems[6] is None  # 1x1 px


def test_check_bboxes_names_image_and_box():
    assert check_bboxes([], (10, 10), 'a.jpg').shape == (0, 4)
    with pytest.raises(ValueError, match=r'a.jpg: box 1 .* zero or negative'):
        check_bboxes([[0, 0, 5, 5], [3, 3, 3, 8]], (10, 10), 'a.jpg')
    with pytest.raises(ValueError, match=r'a.jpg: .*shape \(N, 4\)'):
        check_bboxes([[0, 0, 5]], (10, 10), 'a.jpg')


def test_selection_drops_unusable_detections():
    boxes = np.array([[0, 0, 50, 80], [5, 5, 5, 40], [500, 0, 600, 40]],
                     np.float32)
    kept, scores = select_person_boxes(boxes, np.array([.9, .95, .99]),
                                       (100, 100), 'img', 0.3, 0.3)
    np.testing.assert_array_equal(kept, boxes[:1])
    np.testing.assert_allclose(scores, [.9])


def test_mmdet_detector_from_config(det_config, coco_dir):
    """The real one-class RTMDet-nano built from configs/mmdet/ without
    weights: mmdet labels it with COCO's classes (person = index 0); its
    boxes come back in pixels of the original 640x429 image (the detector
    works at 320x320)."""
    detector = MMDetPersonDetector(det_config, None, device='cpu', cat_id=0)
    assert detector.model.dataset_meta['classes'][0] == 'person'
    fix_rtmdet_head(detector)
    img = load_image(coco_dir / '000000196141.jpg')
    boxes, scores = detector(img)
    assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4)
    assert len(boxes) == 100  # the config's max_per_img
    np.testing.assert_allclose(scores, 0.5)
    sides = np.unique(np.round(boxes[:, 2] - boxes[:, 0]))
    # unclipped boxes are 4 strides (8, 16, 32 at 320 px) wide, x2 to image
    assert {64., 128.} <= set(sides.tolist())
    assert np.all(boxes[:, [0, 2]] >= 0) and np.all(boxes[:, [0, 2]] <= 640)
    with pytest.raises(ValueError, match='class index 80'):
        MMDetPersonDetector(det_config, None, device='cpu', cat_id=80)
