"""The ONNX Runtime network inside the top-down API
(``HourglassTopdownInferencer(..., backend='onnx')``) gives the PyTorch
keypoints (flip test included) on a real multi-person image."""
import json

import numpy as np
import pytest
import torch
from mmpose.apis import inference_topdown

from hourglass_plugin.apis import HourglassTopdownInferencer
from hourglass_plugin.deploy import (BackendPoseEstimator, OrtHeatmapRunner,
                                     build_heatmap_runner)
from hourglass_plugin.deploy.model_zoo import load_pose_model

IMAGE_ID = 196141  # 5 annotated people


@pytest.fixture(scope='module')
def coco_people(coco_dir):
    """Image path and its (5, 4) ground-truth person boxes (xyxy)."""
    folder = coco_dir
    ann = json.loads((folder / 'test_coco.json').read_text())
    boxes = np.array(
        [a['bbox'] for a in ann['annotations'] if a['image_id'] == IMAGE_ID],
        np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return str(folder / f'{IMAGE_ID:012d}.jpg'), boxes


@pytest.fixture(scope='module')
def torch_and_onnx(tmp_path_factory, sample_config):
    """The API on PyTorch and on ONNX Runtime (``backend='onnx'``), same
    seeded random weights."""
    ckpt = tmp_path_factory.mktemp('api') / 'sample.pth'
    torch.manual_seed(0)
    torch.save(load_pose_model(str(sample_config)).state_dict(), ckpt)
    reference = HourglassTopdownInferencer(str(sample_config), str(ckpt))
    fast = HourglassTopdownInferencer(
        str(sample_config), str(ckpt), backend='onnx', threads=2)
    return reference, fast


def test_onnx_in_api_equals_pytorch_to_0_01_px(torch_and_onnx, coco_people):
    reference, fast = torch_and_onnx
    image, boxes = coco_people
    assert reference.model.test_cfg['flip_test']
    expected = reference(image, bboxes=boxes)
    got = fast(image, bboxes=boxes)
    assert len(got.persons) == len(expected.persons) == len(boxes) == 5
    for mine, ref in zip(got.persons, expected.persons):
        np.testing.assert_allclose(mine.bbox, ref.bbox)
        assert np.abs(mine.keypoints - ref.keypoints).max() < 0.01
        np.testing.assert_allclose(
            mine.keypoint_scores, ref.keypoint_scores, rtol=1e-4)


def test_flip_test_runs_the_backend_on_mirrored_crops(torch_and_onnx,
                                                      coco_people):
    _, fast = torch_and_onnx
    image, boxes = coco_people
    runner = fast.pose_estimator.runner
    seen = []

    def spy(inputs):
        seen.append(inputs)
        return runner(inputs)

    fast.pose_estimator.runner = spy
    try:
        fast(image, bboxes=boxes)
    finally:
        fast.pose_estimator.runner = runner
    (batch, ) = seen  # plain and mirrored crops in one backend call
    assert batch.shape[0] == 2 * len(boxes)
    torch.testing.assert_close(batch[len(boxes):], batch[:len(boxes)].flip(-1))


def test_estimator_without_flip_test_equals_test_step(torch_and_onnx,
                                                      coco_people):
    reference, fast = torch_and_onnx
    image, boxes = coco_people
    model = reference.model
    model.test_cfg['flip_test'] = False
    try:
        eager = BackendPoseEstimator(model, build_heatmap_runner(model))
        mine = inference_topdown(eager, image, boxes)
        ref = inference_topdown(model, image, boxes)
    finally:
        model.test_cfg['flip_test'] = True
    for a, b in zip(mine, ref):
        np.testing.assert_allclose(
            a.pred_instances.keypoints, b.pred_instances.keypoints, atol=1e-4)


def spinning(runner) -> str:
    """ONNX Runtime's ``session.intra_op.allow_spinning`` of a runner."""
    return runner.session.get_session_options().get_session_config_entry(
        'session.intra_op.allow_spinning')


def test_the_api_stops_onnx_runtime_threads_spinning_between_runs(
        torch_and_onnx, sample_onnx):
    # between two network runs the pipeline's own PyTorch work needs the
    # cores (ort_runner's docstring: the crop stage took 25-45 ms per image
    # with spinning threads, 14-17 ms without)
    _, fast = torch_and_onnx
    assert spinning(fast.pose_estimator.runner) == '0'
    # a bare runner keeps ONNX Runtime's default (back-to-back latency)
    assert spinning(OrtHeatmapRunner(sample_onnx, threads=2)) == '1'
    assert spinning(OrtHeatmapRunner(sample_onnx, threads=2,
                                     spin_wait=False)) == '0'
