"""The ONNX Runtime network inside the top-down API gives the PyTorch
keypoints (flip test included) on a real multi-person image."""
import json

import numpy as np
import pytest
import torch
from mmpose.apis import inference_topdown

from hourglass_plugin.apis import HourglassTopdownInferencer
from hourglass_plugin.deploy import BackendPoseEstimator, build_heatmap_runner

IMAGE_ID = 196141  # 5 annotated people


class BackendInferencer(HourglassTopdownInferencer):
    """The API with its network step on a deploy backend: the documented
    extension point (``forward_pose``) overridden, nothing else."""

    def __init__(self, config: str, backend: str, work_dir: str) -> None:
        super().__init__(config)
        self.runner = build_heatmap_runner(
            self.model, backend, threads=2, work_dir=work_dir)
        self.fast = BackendPoseEstimator(self.model, self.runner)

    def forward_pose(self, image, bboxes):
        return inference_topdown(self.fast, image, bboxes, bbox_format='xyxy')


@pytest.fixture(scope='module')
def coco_people(shared_data_dir):
    """Image path and its (5, 4) ground-truth person boxes (xyxy)."""
    folder = shared_data_dir / 'coco_multi'
    ann = json.loads((folder / 'test_coco.json').read_text())
    boxes = np.array(
        [a['bbox'] for a in ann['annotations'] if a['image_id'] == IMAGE_ID],
        np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return str(folder / f'{IMAGE_ID:012d}.jpg'), boxes


@pytest.fixture(scope='module')
def torch_and_onnx(tmp_path_factory, sample_config):
    """The API's PyTorch inferencer and the same weights on ONNX Runtime."""
    torch.manual_seed(0)
    fast = BackendInferencer(
        str(sample_config), 'onnx', str(tmp_path_factory.mktemp('api')))
    reference = HourglassTopdownInferencer(str(sample_config))
    reference.model = fast.model  # one set of weights
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
    seen = []

    def spy(inputs):
        seen.append(inputs)
        return fast.runner(inputs)

    fast.fast.runner = spy
    try:
        fast(image, bboxes=boxes)
    finally:
        fast.fast.runner = fast.runner
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
