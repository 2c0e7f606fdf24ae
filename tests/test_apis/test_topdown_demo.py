"""tools/topdown_demo.py end to end: real COCO images with real detector
boxes, an mmdet detector built from its config, given boxes, a video, and
bad inputs (listed as failed, the others processed, exit code 1, no stack
trace). Start-up faults (options, device, checkpoint, backend, output
folder) are in test_topdown_demo_faults.py."""
import json
import re
import shutil
from pathlib import Path

import cv2
import mmcv
import numpy as np
import pytest
import torch
from topdown_helpers import assert_keypoints_in_crop, kept_person_boxes

IMAGE_IDS = (785, 40083, 196141, 197388)
INPUT_SIZE, HEATMAP_SIZE = (128, 128), (32, 32)  # the sample pose config
PERSON_KEYS = {
    'bbox', 'bbox_score', 'keypoints', 'keypoint_scores', 'keypoint_names'
}


@pytest.fixture
def pose_args(pose_config, pose_checkpoint):
    """The sample model on the CPU (the same results on every machine)."""
    return [
        '--pose-config', pose_config, '--pose-checkpoint', pose_checkpoint,
        '--device', 'cpu'
    ]


def read_people(path: Path) -> list:
    people = json.loads(path.read_text())
    assert isinstance(people, list)
    for person in people:
        assert set(person) == PERSON_KEYS
        assert len(person['bbox']) == 4
        assert np.shape(person['keypoints']) == (16, 2)
        assert len(person['keypoint_scores']) == 16
        assert person['keypoint_names'][0] == 'right_ankle'
        assert_keypoints_in_crop(person['bbox'], person['keypoints'],
                                 person['keypoint_scores'], INPUT_SIZE,
                                 HEATMAP_SIZE)
    return people


def write_video(path: Path, coco_dir: Path, fourcc: str = 'mp4v') -> Path:
    """A 3-frame 320x240 video of three real COCO images."""
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), 5, (320, 240))
    for image_id in IMAGE_IDS[:3]:
        frame = mmcv.imread(coco_dir / f'{image_id:012d}.jpg')
        writer.write(cv2.resize(frame, (320, 240)))
    writer.release()
    return path


def test_coco_images_with_detection_file(run_demo, pose_args, coco_dir,
                                         det_file, tmp_path):
    """4 images, det file, --bbox-thr 0.3 (NMS 0.3 by default): one PNG and
    one JSON per image, one entry per box kept by score >= 0.3 on COCO
    person records (category 1) and NMS, poses inside their crops."""
    out = tmp_path / 'out'
    code, stdout, _ = run_demo(coco_dir, *pose_args, '--det-json', det_file,
                               '--bbox-thr', '0.3', '--out-dir', out)
    assert code == 0 and f'results written to {out}' in stdout
    stems = [f'{i:012d}' for i in IMAGE_IDS]
    assert sorted(
        p.name for p in out.iterdir()) == sorted([f'{s}.png' for s in stems] +
                                                 [f'{s}.json' for s in stems])
    for image_id, stem in zip(IMAGE_IDS, stems):
        people = read_people(out / f'{stem}.json')
        expected = kept_person_boxes(det_file, image_id, 0.3, 0.3)
        assert len(people) == len(expected) > 0
        np.testing.assert_allclose(
            sorted(p['bbox'] for p in people),
            sorted(expected.tolist()),
            rtol=1e-6)
        assert all(p['bbox_score'] >= 0.3 for p in people)
        image = mmcv.imread(coco_dir / f'{stem}.jpg')
        drawing = mmcv.imread(out / f'{stem}.png')
        assert drawing.shape == image.shape
        assert np.any(drawing != image)  # skeletons and boxes drawn


def test_detection_file_with_annotation_file(run_demo, pose_args, coco_dir,
                                             det_file, tmp_path):
    """Image ids from test_coco.json's `images` instead of the file stem."""
    out = tmp_path / 'out'
    code, _, _ = run_demo(coco_dir / '000000040083.jpg', *pose_args,
                          '--det-json', det_file, '--det-ann-file',
                          coco_dir / 'test_coco.json', '--out-dir', out)
    assert code == 0
    people = read_people(out / '000000040083.json')
    assert len(people) == len(kept_person_boxes(det_file, 40083, 0.3, 0.3))


def test_mmdet_detector_from_config_end_to_end(run_demo, pose_args, det_config,
                                               coco_dir, tmp_path):
    """The real RTMDet-nano person detector built from configs/mmdet/ with
    random weights: the command runs through, however many boxes it keeps
    (with random weights usually none)."""
    torch.manual_seed(0)
    out = tmp_path / 'out'
    code, _, _ = run_demo(coco_dir / '000000196141.jpg', *pose_args,
                          '--det-config', det_config, '--bbox-thr', '0.3',
                          '--out-dir', out)
    assert code == 0
    people = read_people(out / '000000196141.json')
    assert all(p['bbox_score'] >= 0.3 for p in people)
    assert mmcv.imread(out / '000000196141.png').shape == (429, 640, 3)


def test_zero_detections_give_empty_json_and_plain_image(
        run_demo, pose_args, coco_dir, det_file, tmp_path):
    image_dir = tmp_path / 'images'
    image_dir.mkdir()
    # an image the detection file has no record for (id 1)
    shutil.copy(coco_dir / '000000000785.jpg', image_dir / '000000000001.jpg')
    out = tmp_path / 'out'
    assert run_demo(image_dir, *pose_args, '--det-json', det_file, '--out-dir',
                    out)[0] == 0
    assert json.loads((out / '000000000001.json').read_text()) == []
    np.testing.assert_array_equal(
        mmcv.imread(out / '000000000001.png'),
        mmcv.imread(image_dir / '000000000001.jpg', backend='pillow'))
    # whole-image fallback only when asked for
    assert run_demo(image_dir, *pose_args, '--det-json', det_file,
                    '--whole-image-fallback', '--out-dir', out)[0] == 0
    people = read_people(out / '000000000001.json')
    assert [p['bbox'] for p in people] == [[0, 0, 640, 425]]


def test_given_boxes_and_heatmaps(run_demo, pose_args, coco_dir, tmp_path):
    image = coco_dir / '000000040083.jpg'  # 500x333
    out = tmp_path / 'out'
    assert run_demo(image, *pose_args, '--bboxes',
                    '10,10,200,300;-50,20,100,400', '--draw-heatmap',
                    '--out-dir', out)[0] == 0
    people = read_people(out / '000000040083.json')
    assert [p['bbox'] for p in people] == [[10, 10, 200, 300],
                                           [-50, 20, 100, 400]]
    assert [p['bbox_score'] for p in people] == [1.0, 1.0]
    # heatmaps drawn below the image
    assert mmcv.imread(out / '000000040083.png').shape == (666, 500, 3)
    # the same boxes from a JSON file
    (tmp_path / 'boxes.json').write_text('[[10, 10, 200, 300]]')
    assert run_demo(image, *pose_args, '--bboxes', tmp_path / 'boxes.json',
                    '--out-dir', out)[0] == 0
    assert len(read_people(out / '000000040083.json')) == 1


def test_video(run_demo, pose_args, coco_dir, tmp_path):
    """A 3-frame video: <stem>.mp4 with the drawn frames and <stem>.json
    with one person list per frame."""
    video = write_video(tmp_path / 'clip.mp4', coco_dir)
    out = tmp_path / 'out'
    assert run_demo(video, *pose_args, '--bboxes', '20,20,150,230',
                    '--out-dir', out)[0] == 0
    frames = json.loads((out / 'clip.json').read_text())
    assert len(frames) == 3
    for people in frames:
        assert len(people) == 1
        assert people[0]['bbox'] == [20, 20, 150, 230]
        assert_keypoints_in_crop(people[0]['bbox'], people[0]['keypoints'],
                                 people[0]['keypoint_scores'], INPUT_SIZE,
                                 HEATMAP_SIZE)
    drawn = mmcv.VideoReader(str(out / 'clip.mp4'))
    assert len(drawn) == 3 and (drawn.width, drawn.height) == (320, 240)


@pytest.mark.parametrize('damage', ['empty', 'half', 'no frame'])
def test_video_that_cannot_be_opened_is_a_failed_input(run_demo, pose_args,
                                                       coco_dir, tmp_path,
                                                       damage):
    """A 0-byte .mp4, an .mp4 cut to half its bytes (its index, the 'moov'
    atom written last, is gone) and an .avi holding no frame: listed as
    failed, exit 1, no result files."""
    if damage == 'no frame':
        video = tmp_path / 'clip.avi'
        cv2.VideoWriter(
            str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5,
            (320, 240)).release()
        message = f'video {video} holds no frame'
    else:
        video = write_video(tmp_path / 'clip.mp4', coco_dir)
        data = video.read_bytes()
        video.write_bytes(b'' if damage == 'empty' else data[:len(data) // 2])
        message = (f'cannot open video {video}: empty, truncated or not a '
                   'video file')
    out = tmp_path / 'out'
    code, stdout, err = run_demo(video, *pose_args, '--out-dir', out)
    assert code == 1 and 'results written' not in stdout
    assert err.splitlines() == [
        f'error: {message}',
        f'1 of 1 inputs failed (listed in {out}/failures.json):',
        f'  {message}',
    ]
    assert json.loads((out / 'failures.json').read_text()) == [
        dict(input=str(video), frame=None, error=message)
    ]
    assert sorted(p.name for p in out.iterdir()) == ['failures.json']


@pytest.mark.parametrize('extra,message', [
    (['--bboxes', '100,100,100,200'
      ], '000000040083.jpg: box 0 .* zero or negative area'),
    (['--bboxes', '600,10,700,100'], 'box 0 .* outside the 500x333 image'),
])
def test_unusable_boxes_end_with_a_clear_error(run_demo, pose_args, coco_dir,
                                               tmp_path, extra, message):
    code, _, err = run_demo(coco_dir / '000000040083.jpg', *pose_args, *extra,
                            '--out-dir', tmp_path / 'out')
    assert code == 1
    assert err.startswith('error: ')
    assert re.search(message, err.splitlines()[0])
    assert 'Traceback' not in err


def test_bad_options_and_inputs(run_demo, pose_args, coco_dir, det_file,
                                tmp_path):
    # not boxes: argparse error (exit 2)
    code, _, err = run_demo(coco_dir, *pose_args, '--bboxes', '1,2,3',
                            '--out-dir', tmp_path / 'o')
    assert code == 2
    assert 'every box needs 4 numbers' in err
    # a missing input: exit 1, one line
    code, _, err = run_demo(tmp_path / 'missing', *pose_args, '--out-dir',
                            tmp_path / 'o')
    assert (code, err) == (1, f'error: input {tmp_path}/missing does not '
                           'exist\n')
    # a folder without images
    (tmp_path / 'empty').mkdir()
    code, _, err = run_demo(tmp_path / 'empty', *pose_args, '--out-dir',
                            tmp_path / 'o')
    assert (code, err) == (1, f'error: input folder {tmp_path}/empty holds '
                           'no image (.jpg, .jpeg, .png, .bmp, .tif, .tiff, '
                           '.webp)\n')
    # a video with a detection file (boxes are matched to image ids)
    (tmp_path / 'clip.mp4').write_bytes(b'')
    code, _, err = run_demo(tmp_path / 'clip.mp4', *pose_args, '--det-json',
                            det_file, '--out-dir', tmp_path / 'o')
    assert (code, err) == (1, f'error: {tmp_path}/clip.mp4: --det-json '
                           'matches boxes to images by image id; use it for '
                           'images only\n')
    # a file whose name holds no COCO id: listed as failed
    mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), tmp_path / 'frame.png')
    code, _, err = run_demo(tmp_path / 'frame.png', *pose_args, '--det-json',
                            det_file, '--out-dir', tmp_path / 'o')
    assert code == 1
    assert 'frame.png: cannot read a COCO image id' in err.splitlines()[0]


def test_onnx_backend_in_demo_equals_pytorch(run_demo, pose_args, coco_dir,
                                             det_file, tmp_path):
    """--backend onnx: the network runs in ONNX Runtime inside the demo on a
    real multi-person image; keypoints equal the PyTorch path to 0.01 px."""
    image = coco_dir / '000000196141.jpg'
    people = {}
    for backend in ('pytorch', 'onnx'):
        out = tmp_path / backend
        assert run_demo(image, *pose_args, '--det-json', det_file, '--backend',
                        backend, '--out-dir', out)[0] == 0
        people[backend] = read_people(out / '000000196141.json')
    assert len(people['onnx']) == len(people['pytorch']) > 1
    for mine, ref in zip(people['onnx'], people['pytorch']):
        np.testing.assert_allclose(mine['bbox'], ref['bbox'])
        assert np.abs(np.subtract(mine['keypoints'],
                                  ref['keypoints'])).max() < 0.01


def corrupt_folder(coco_dir: Path, folder: Path) -> Path:
    """Three images, the middle one (by name) a JPEG cut after its header:
    a.jpg, b.jpg (corrupt), c.jpg."""
    folder.mkdir()
    shutil.copy(coco_dir / '000000000785.jpg', folder / 'a.jpg')
    (folder / 'b.jpg').write_bytes(
        (coco_dir / '000000040083.jpg').read_bytes()[:200])
    shutil.copy(coco_dir / '000000196141.jpg', folder / 'c.jpg')
    return folder / 'b.jpg'


def test_folder_with_a_corrupt_image_goes_on_and_lists_it(
        run_demo, pose_args, coco_dir, tmp_path):
    """The images after the corrupt one are processed too; the failure is
    printed, listed at the end and in failures.json; exit code 1."""
    bad = corrupt_folder(coco_dir, tmp_path / 'images')
    out = tmp_path / 'out'
    out.mkdir()
    code, _, err = run_demo(bad.parent, *pose_args, '--out-dir', out)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == [
        'a.json', 'a.png', 'c.json', 'c.png', 'failures.json'
    ]
    for stem in 'ac':
        assert len(read_people(out / f'{stem}.json')) == 1  # whole image
    failures = json.loads((out / 'failures.json').read_text())
    assert len(failures) == 1
    assert failures[0]['input'] == str(bad) and failures[0]['frame'] is None
    assert failures[0]['error'].startswith(f'cannot decode image file {bad}')
    assert f'error: cannot decode image file {bad}' in err
    assert f'1 of 3 inputs failed (listed in {out}/failures.json)' in err
    assert 'Traceback' not in err

    # a later run without failures removes the stale failures.json
    bad.unlink()
    assert run_demo(bad.parent, *pose_args, '--out-dir', out)[0] == 0
    assert not (out / 'failures.json').exists()


def test_fail_fast_stops_at_the_first_corrupt_image(run_demo, pose_args,
                                                    coco_dir, tmp_path):
    bad = corrupt_folder(coco_dir, tmp_path / 'images')
    out = tmp_path / 'out'
    code, _, err = run_demo(bad.parent, *pose_args, '--fail-fast', '--out-dir',
                            out)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ['a.json', 'a.png']
    assert err.startswith(f'error: cannot decode image file {bad}')
    assert len(err.splitlines()) == 1


def test_video_with_an_undecodable_frame_goes_on(run_demo, pose_args, coco_dir,
                                                 tmp_path):
    """A 3-frame MJPEG video whose frame 1 lost its JPEG data: frames 0 and
    2 are processed and written, frame 1 is null in the JSON and listed."""
    video = write_video(tmp_path / 'clip.avi', coco_dir, 'MJPG')
    data = bytearray(video.read_bytes())
    starts = [m.start() for m in re.finditer(b'\xff\xd8\xff', bytes(data))]
    assert len(starts) == 3
    data[starts[1]:starts[1] + 400] = bytes(400)
    video.write_bytes(bytes(data))
    out = tmp_path / 'out'
    code, _, err = run_demo(video, *pose_args, '--bboxes', '20,20,150,230',
                            '--out-dir', out)
    assert code == 1
    frames = json.loads((out / 'clip.json').read_text())
    assert [f is None for f in frames] == [False, True, False]
    assert [p['bbox'] for p in frames[2]] == [[20, 20, 150, 230]]
    failures = json.loads((out / 'failures.json').read_text())
    assert [(f['input'], f['frame']) for f in failures] == [(str(video), 1)]
    assert 'cannot decode frame 1 of 3' in failures[0]['error']
    assert len(mmcv.VideoReader(str(out / 'clip.mp4'))) == 2
    assert '1 of 3 inputs failed' in err
