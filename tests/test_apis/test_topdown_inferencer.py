"""HourglassTopdownInferencer on real multi-person COCO images.

The pose model has random weights (no trained weights here), so these tests
check geometry and plumbing, which do not depend on the weights: which boxes
are used, what crop the model sees, where a heatmap peak lands in the image.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmpose.apis import MMPoseInferencer, inference_topdown
from PIL import Image
from topdown_helpers import (assert_keypoints_in_crop, crop_center_size,
                             fix_rtmdet_head, image_to_input_matrix,
                             input_to_image, kept_person_boxes)

from hourglass_plugin.apis import (CocoDetectionFile,
                                   HourglassTopdownInferencer,
                                   MMDetPersonDetector, build_pose_visualizer,
                                   draw_result, load_image,
                                   select_person_boxes, topdown_inferencer)
from hourglass_plugin.engine import (CheckpointError, DeviceError,
                                     default_device)

MPII_JOINTS = [
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee',
    'left_ankle', 'pelvis', 'thorax', 'upper_neck', 'head_top', 'right_wrist',
    'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow',
    'left_wrist'
]


def image_path(coco_dir: Path, image_id: int) -> Path:
    return coco_dir / f'{image_id:012d}.jpg'


@pytest.fixture(scope='module')
def inferencer(pose_config, pose_checkpoint, det_file):
    """Pose model on the CPU + the real detection file, bbox_thr 0.3, NMS
    0.3."""
    return HourglassTopdownInferencer(
        pose_config,
        pose_checkpoint,
        device='cpu',
        bbox_source=CocoDetectionFile(det_file),
        bbox_thr=0.3,
        nms_thr=0.3)


def input_size(inferencer) -> tuple:
    """Model input (w, h) in pixels, from the config's codec."""
    return tuple(inferencer.model.head.decoder.input_size)


def assert_in_crop_regions(inferencer, result, tol: float = 1e-3):
    """Every person's keypoints lie in its box's crop region (see
    ``assert_keypoints_in_crop``)."""
    decoder = inferencer.model.head.decoder
    for person in result.persons:
        assert_keypoints_in_crop(person.bbox, person.keypoints,
                                 person.keypoint_scores, decoder.input_size,
                                 decoder.heatmap_size, tol)


@pytest.mark.parametrize('image_id', [785, 40083])
def test_one_pose_per_kept_box(inferencer, coco_dir, det_file, image_id):
    result = inferencer(image_path(coco_dir, image_id))
    expected = kept_person_boxes(det_file, image_id, 0.3, 0.3)
    assert len(result.persons) == len(expected) > 0
    np.testing.assert_allclose(
        sorted(p.bbox.tolist() for p in result.persons),
        sorted(expected.tolist()),
        rtol=1e-6)
    for person in result.persons:
        assert person.keypoints.shape == (16, 2)
        assert person.keypoint_scores.shape == (16, )
        assert person.keypoint_names == MPII_JOINTS
        assert 0.3 <= person.bbox_score <= 1
        record = person.to_dict()
        assert set(record) == {
            'bbox', 'bbox_score', 'keypoints', 'keypoint_scores',
            'keypoint_names'
        }
        assert len(record['keypoints']) == 16
    assert_in_crop_regions(inferencer, result)
    # the merged mmpose data sample holds the same numbers
    instances = result.data_sample.pred_instances
    assert instances.keypoints.shape == (len(expected), 16, 2)
    np.testing.assert_array_equal(instances.keypoints[0],
                                  result.persons[0].keypoints)
    np.testing.assert_allclose(instances.bbox_scores,
                               [p.bbox_score for p in result.persons])


def test_crop_batch_and_back_mapping_are_exact(inferencer, coco_dir,
                                               monkeypatch):
    """The model receives, in one batch, each person's crop as TopdownAffine
    makes it (box x 1.25 about its centre, widened to the input aspect
    ratio); a heatmap peak at a known heatmap pixel comes back at the
    analytic image location of that pixel, to 0.01 px."""
    model = inferencer.model
    decoder = model.head.decoder
    (in_w, in_h), (hm_w, hm_h) = decoder.input_size, decoder.heatmap_size
    num_joints = 16
    peaks = [(3 + k, 25 - k) for k in range(num_joints)]  # (x, y) heatmap px

    def synthetic_predict(feats, batch_data_samples, test_cfg=None):
        heatmaps = torch.zeros(len(batch_data_samples), num_joints, hm_h, hm_w)
        for k, (x, y) in enumerate(peaks):
            heatmaps[:, k, y, x] = 1.0
        return model.head.decode(heatmaps)

    inputs = []
    hook = model.backbone.register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].detach().clone()))
    monkeypatch.setattr(model.head, 'predict', synthetic_predict)
    path = image_path(coco_dir, 40083)
    try:
        result = inferencer(path)
    finally:
        hook.remove()
    boxes = np.stack([p.bbox for p in result.persons])
    num_people = len(boxes)
    assert num_people > 1

    # one forward for all people (two with flip test: image + mirror)
    flip = model.test_cfg.get('flip_test', False)
    assert len(inputs) == (2 if flip else 1)
    assert all(batch.shape == (num_people, 3, in_h, in_w) for batch in inputs)
    if flip:
        torch.testing.assert_close(inputs[1], inputs[0].flip(-1))

    # each crop equals one made with the analytic image->input matrix
    image = load_image(path)
    preprocessor = model.cfg.model.data_preprocessor
    mean = np.array(preprocessor.mean, np.float32)
    std = np.array(preprocessor.std, np.float32)
    for i, bbox in enumerate(boxes):
        crop = cv2.warpAffine(
            image,
            image_to_input_matrix(bbox, (in_w, in_h)), (in_w, in_h),
            flags=cv2.INTER_LINEAR)
        if preprocessor.get('bgr_to_rgb', False):
            crop = crop[..., ::-1]
        expected = ((crop - mean) / std).transpose(2, 0, 1)
        grey_levels = np.abs(inputs[0][i].numpy() - expected) * std[:, None,
                                                                    None]
        # same bilinear samples (OpenCV rounds sample positions to 1/32 px;
        # the two matrices differ by float rounding only): at most 1 level
        assert grey_levels.max() <= 1 + 1e-3

    # the peaks map back through the inverse of that crop
    stride = np.array([in_w / hm_w, in_h / hm_h])
    for person in result.persons:
        expected = [
            input_to_image(np.array(p) * stride, person.bbox, (in_w, in_h))
            for p in peaks
        ]
        np.testing.assert_allclose(person.keypoints, expected, atol=0.01)
        np.testing.assert_allclose(person.keypoint_scores, 1.0)


def test_crop_centre_and_scale_match_mmpose(inferencer, coco_dir):
    """Per box, mmpose's recorded crop centre and size equal the analytic
    ones (the pipeline is GetBBoxCenterScale(padding=1.25) +
    TopdownAffine)."""
    image = load_image(image_path(coco_dir, 40083))
    boxes = np.array([[20, 30, 120, 300], [-40, 10, 60, 60]], np.float32)
    samples = inferencer.forward_pose(image, boxes)
    for sample, bbox in zip(samples, boxes):
        center, size = crop_center_size(bbox, input_size(inferencer))
        np.testing.assert_allclose(
            sample.metainfo['input_center'], center, atol=1e-3)
        np.testing.assert_allclose(
            sample.metainfo['input_scale'], size, atol=1e-3)


def test_zero_detections(inferencer, coco_dir, tmp_path, monkeypatch):
    # an image id the detection file has no record for: nobody
    path = tmp_path / '000000000001.jpg'
    Image.open(image_path(coco_dir, 785)).save(path)
    result = inferencer(path)
    assert result.persons == []
    assert result.data_sample.pred_instances.keypoints.shape == (0, 16, 2)
    # the plain image is drawn
    visualizer = build_pose_visualizer(inferencer.model.cfg,
                                       inferencer.dataset_meta)
    np.testing.assert_array_equal(
        draw_result(visualizer, result), result.image[..., ::-1])
    # explicit empty box list: nobody either
    assert inferencer(path, bboxes=[]).persons == []
    # the whole image only when asked for
    monkeypatch.setattr(inferencer, 'whole_image_fallback', True)
    persons = inferencer(path).persons
    assert len(persons) == 1
    np.testing.assert_array_equal(persons[0].bbox, [0, 0, 640, 425])


def test_boxes_partly_outside_and_tiny(inferencer, coco_dir):
    path = image_path(coco_dir, 40083)  # 500x333
    boxes = [[-100, -50, 200, 300], [400, 200, 700, 500], [100, 100, 101, 101],
             [50.2, 60.7, 50.3, 60.8]]
    result = inferencer(path, bboxes=boxes, bbox_scores=[.9, .8, .7, .6])
    assert len(result.persons) == 4
    np.testing.assert_allclose([p.bbox for p in result.persons], boxes)
    np.testing.assert_allclose([p.bbox_score for p in result.persons],
                               [.9, .8, .7, .6],
                               rtol=1e-6)
    for person in result.persons:
        assert np.all(np.isfinite(person.keypoints))
    assert_in_crop_regions(inferencer, result)


@pytest.mark.parametrize('box,problem', [
    ([100, 100, 100, 150], 'box 1 .* zero or negative area'),
    ([150, 100, 100, 150], 'box 1 .* zero or negative area'),
    ([600, 10, 700, 100], 'box 1 .* outside the 500x333 image'),
    ([0, 0, np.inf, 10], 'box 1 .* not finite'),
])
def test_unusable_given_boxes_raise_naming_image_and_box(
        inferencer, coco_dir, box, problem):
    path = image_path(coco_dir, 40083)
    with pytest.raises(ValueError, match=f'000000040083.jpg: {problem}'):
        inferencer(path, bboxes=[[10, 10, 100, 200], box])


def test_bad_box_arguments_raise(inferencer, coco_dir):
    path = image_path(coco_dir, 40083)
    with pytest.raises(ValueError, match=r'shape \(N, 4\)'):
        inferencer(path, bboxes=[[1, 2, 3, 4, 5]])
    with pytest.raises(ValueError, match='2 boxes but 1 bbox_scores'):
        inferencer(
            path, bboxes=[[1, 2, 30, 40], [5, 6, 70, 80]], bbox_scores=[1])
    with pytest.raises(ValueError, match="backend 'tensorrt'"):
        HourglassTopdownInferencer('unused.py', backend='tensorrt')


def test_huge_image(inferencer, coco_dir, det_file, tmp_path):
    """An 8000x5312 px (42 MP) JPEG, the real image upscaled 12.5x, with the
    detector boxes scaled alike: poses inside their crops."""
    image = load_image(image_path(coco_dir, 785))
    huge = cv2.resize(image, (8000, 5312), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / 'huge.jpg'
    cv2.imwrite(str(path), huge)
    del huge
    boxes = kept_person_boxes(det_file, 785, 0.3, 0.3) * 12.5
    result = inferencer(path, bboxes=boxes)
    assert result.image.shape == (5312, 8000, 3)
    assert len(result.persons) == len(boxes) > 0
    np.testing.assert_allclose([p.bbox for p in result.persons], boxes)
    assert_in_crop_regions(inferencer, result, tol=1e-2)


@pytest.mark.parametrize('kind', ['grayscale', 'rgba', 'exif'])
def test_image_kinds_through_the_pipeline(inferencer, coco_dir, det_file,
                                          tmp_path, kind):
    """Grayscale, RGBA and EXIF-rotated copies of a real image, named by its
    COCO id: matched to its detections, poses in upright coordinates."""
    rgb = Image.open(image_path(coco_dir, 785)).convert('RGB')  # 640x425
    if kind == 'grayscale':
        path = tmp_path / '000000000785.png'
        rgb.convert('L').save(path)
    elif kind == 'rgba':
        path = tmp_path / '000000000785.png'
        rgb.convert('RGBA').save(path)
    else:
        path = tmp_path / '000000000785.jpg'
        exif = Image.Exif()
        exif[0x0112] = 6  # stored turned by 90 deg, shown rotated clockwise
        rgb.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    result = inferencer(path)
    assert result.image.shape == (425, 640, 3)
    if kind == 'grayscale':
        assert np.all(result.image[..., 0] == result.image[..., 2])
    expected = kept_person_boxes(det_file, 785, 0.3, 0.3)
    assert len(result.persons) == len(expected) > 0
    assert_in_crop_regions(inferencer, result)


def test_array_input_with_image_id(inferencer, coco_dir, det_file):
    image = load_image(image_path(coco_dir, 785))
    result = inferencer(image, image_id=785)
    assert len(result.persons) == len(
        kept_person_boxes(det_file, 785, 0.3, 0.3))
    with pytest.raises(ValueError, match='image_id'):
        inferencer(image)


def test_whole_image_without_a_source(inferencer, coco_dir, monkeypatch):
    monkeypatch.setattr(inferencer, 'bbox_source', None)
    result = inferencer(image_path(coco_dir, 40083))
    assert len(result.persons) == 1
    np.testing.assert_array_equal(result.persons[0].bbox, [0, 0, 500, 333])


def test_heatmaps_kept_for_drawing_or_left_out(inferencer, coco_dir,
                                               monkeypatch):
    path = image_path(coco_dir, 40083)  # 500x333
    boxes = [[10, 10, 200, 300], [250, 20, 450, 320]]
    monkeypatch.setitem(inferencer.model.test_cfg, 'output_heatmaps', True)
    result = inferencer(path, bboxes=boxes)
    assert result.data_sample.pred_fields.heatmaps.shape == (16, 333, 500)
    visualizer = build_pose_visualizer(inferencer.model.cfg,
                                       inferencer.dataset_meta)
    assert draw_result(
        visualizer, result, draw_heatmap=True).shape == (666, 500, 3)
    # 2 people x 16 joints x 333 x 500 x 4 bytes = 21 MB > 1 MB: left out
    monkeypatch.setattr(inferencer, 'max_heatmap_bytes', 1 << 20)
    warnings = []
    monkeypatch.setattr(topdown_inferencer, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    result = inferencer(path, bboxes=boxes)
    assert len(warnings) == 1
    assert '000000040083.jpg: heatmaps left out' in warnings[0]
    assert 'pred_fields' not in result.data_sample
    assert len(result.persons) == 2


def test_mmdet_detector_source(inferencer, det_config, coco_dir, monkeypatch):
    """Boxes from the real mmdet detector (head fixed to give boxes) go
    through selection and the pose model: one pose per kept box."""
    detector = MMDetPersonDetector(det_config, None, device='cpu')
    fix_rtmdet_head(detector)
    detector.model.bbox_head.test_cfg['max_per_img'] = 6  # keep it quick
    monkeypatch.setattr(inferencer, 'bbox_source', detector)
    path = image_path(coco_dir, 196141)
    image = load_image(path)
    kept, _ = select_person_boxes(*detector(image), image.shape[:2], 'x', 0.3,
                                  0.3)
    result = inferencer(path)
    assert len(result.persons) == len(kept) > 0
    np.testing.assert_allclose([p.bbox for p in result.persons], kept)
    np.testing.assert_allclose([p.bbox_score for p in result.persons], 0.5)
    assert_in_crop_regions(inferencer, result)


def test_mmpose_apis_accept_our_config_and_checkpoint(inferencer, pose_config,
                                                      pose_checkpoint,
                                                      coco_dir, monkeypatch):
    """mmpose's own inference_topdown and MMPoseInferencer run our config and
    checkpoint and give the same keypoints as this API."""
    path = str(image_path(coco_dir, 40083))
    boxes = np.array([[10, 10, 200, 300], [250, 20, 450, 320]], np.float32)
    ours = inferencer(path, bboxes=boxes)
    theirs = inference_topdown(inferencer.model, path, boxes)
    np.testing.assert_allclose(
        np.concatenate([s.pred_instances.keypoints for s in theirs]),
        ours.data_sample.pred_instances.keypoints,
        atol=1e-4)

    # MMPoseInferencer: 'whole_image' = no detector (nothing downloaded);
    # mmpose 1.3.2 ignores its `bboxes` argument, so compare whole images
    mmpose_inferencer = MMPoseInferencer(
        pose2d=pose_config,
        pose2d_weights=pose_checkpoint,
        det_model='whole_image',
        device='cpu')
    prediction = next(mmpose_inferencer(path, return_datasamples=True))
    sample = prediction['predictions'][0]
    monkeypatch.setattr(inferencer, 'bbox_source', None)
    whole = inferencer(path)
    np.testing.assert_array_equal(sample.pred_instances.bboxes,
                                  [[0, 0, 500, 333]])
    np.testing.assert_allclose(
        sample.pred_instances.keypoints,
        whole.data_sample.pred_instances.keypoints,
        atol=1e-4)
    # without det_model mmpose picks a default detector by the dataset's
    # module path ('body' -> RTMDet download); ours is not one of those
    default = MMPoseInferencer(
        pose2d=pose_config, pose2d_weights=pose_checkpoint, device='cpu')
    assert default.inferencer.detector is None


@pytest.mark.parametrize('cuda', [True, False])
def test_default_device_is_the_one_the_machine_has(cuda, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    assert default_device() == ('cuda:0' if cuda else 'cpu')


def test_inferencer_device_default_and_refusal(pose_config, pose_checkpoint,
                                               monkeypatch):
    """Without CUDA (stubbed) the default device is the CPU; a device the
    machine lacks is refused before the model is built."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    pose = HourglassTopdownInferencer(pose_config, pose_checkpoint)
    assert pose.device == 'cpu'
    assert next(pose.model.parameters()).device.type == 'cpu'
    with pytest.raises(DeviceError, match="device 'cuda:0' needs a CUDA GPU"):
        HourglassTopdownInferencer(pose_config, pose_checkpoint, 'cuda:0')


@pytest.mark.slow
def test_checkpoint_of_another_model_raises(trained_sample, repo_root):
    """The main job's trained sample checkpoint (2-stack Newell network)
    with the HG-52 config: CheckpointError naming the checkpoint and a
    mismatching key, not a model with random weights."""
    checkpoint = str(trained_sample['checkpoint'])
    with pytest.raises(CheckpointError) as raised:
        HourglassTopdownInferencer(
            repo_root / 'configs/hourglass52_mpii_256.py', checkpoint)
    assert checkpoint in str(raised.value)
    assert 'backbone.' in str(raised.value)
