"""tools/topdown_demo.py's faults: each ends with one exact line (``error:
<message>`` and exit code 1, or argparse's ``error: argument ...`` and exit
code 2), never a traceback, and no output ever overwrites another output,
the failure list or an input."""
import json
from pathlib import Path

import mmcv
import onnxruntime
import pytest
import torch

import hourglass_plugin.deploy as deploy
from hourglass_plugin.apis import topdown_inferencer as inferencer_module
from hourglass_plugin.deploy.ort_runner import ort_providers
from hourglass_plugin.engine import (CheckpointError, DeviceError,
                                     check_device, load_model_checkpoint)
from hourglass_plugin.engine.cli import run_tool

HG52_CONFIG = 'configs/hourglass52_mpii_256.py'


@pytest.fixture
def pose_args(pose_config, pose_checkpoint):
    """The sample model on the CPU (the same results on every machine)."""
    return [
        '--pose-config', pose_config, '--pose-checkpoint', pose_checkpoint,
        '--device', 'cpu'
    ]


@pytest.mark.parametrize('option,value,message', [
    ('--bbox-thr', '5', '5 is not in [0, 1]'),
    ('--bbox-thr', 'nan', 'nan is not in [0, 1]'),
    ('--bbox-thr', '-0.1', '-0.1 is not in [0, 1]'),
    ('--nms-thr', '-1', '-1 is not in (0, 1]'),
    ('--nms-thr', '0', '0 is not in (0, 1]'),
    ('--nms-thr', 'nan', 'nan is not in (0, 1]'),
    ('--kpt-thr', '1.5', '1.5 is not in [0, 1]'),
    ('--kpt-thr', 'high', "'high' is not a number"),
])
def test_thresholds_out_of_range_are_refused_by_the_parser(
        demo, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:
        demo.parse_args([
            'x.jpg', '--pose-config', 'c.py', '--pose-checkpoint', 'c.pth',
            '--out-dir', 'o', f'{option}={value}'
        ])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(
        f'error: argument {option}: {message}')
    assert 'Traceback' not in err


def test_threshold_bounds_are_accepted(demo):
    args = demo.parse_args([
        'x.jpg', '--pose-config', 'c.py', '--pose-checkpoint', 'c.pth',
        '--out-dir', 'o', '--bbox-thr', '0', '--nms-thr', '1', '--kpt-thr', '1'
    ])
    assert (args.bbox_thr, args.nms_thr, args.kpt_thr) == (0, 1, 1)
    assert args.device is None  # chosen by the machine (default_device)


def test_outputs_of_inputs_never_collide(run_demo, pose_args, coco_dir,
                                         tmp_path):
    """a.jpg and a.png (two different images), failures.jpg and a corrupt
    z.jpg in one folder: a.* and failures.jpg keep their whole file name in
    their outputs, the failure list is failures.json beside them, and every
    result is its own image's (the whole-image box gives its size)."""
    images = tmp_path / 'images'
    images.mkdir()
    sizes = {}
    for name, image_id in [('a.jpg', 785), ('a.png', 40083),
                           ('failures.jpg', 196141), ('b.jpg', 197388)]:
        image = mmcv.imread(coco_dir / f'{image_id:012d}.jpg')
        mmcv.imwrite(image, images / name)
        sizes[name] = [0, 0, image.shape[1], image.shape[0]]
    (images / 'z.jpg').write_bytes(b'not a JPEG')
    out = tmp_path / 'out'
    code, _, err = run_demo(images, *pose_args, '--out-dir', out)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == [
        'a.jpg.json', 'a.jpg.png', 'a.png.json', 'a.png.png', 'b.json',
        'b.png', 'failures.jpg.json', 'failures.jpg.png', 'failures.json'
    ]
    for name, output in [('a.jpg', 'a.jpg'), ('a.png', 'a.png'),
                         ('failures.jpg', 'failures.jpg'), ('b.jpg', 'b')]:
        people = json.loads((out / f'{output}.json').read_text())
        assert [p['bbox'] for p in people] == [sizes[name]]
        assert mmcv.imread(out / f'{output}.png').shape[1::-1] == tuple(
            sizes[name][2:])
    failures = json.loads((out / 'failures.json').read_text())
    assert [f['input'] for f in failures] == [str(images / 'z.jpg')]
    assert f'1 of 5 inputs failed (listed in {out}/failures.json)' in err


def test_out_dir_equal_to_the_input_folder_is_refused(run_demo, pose_args,
                                                      coco_dir, tmp_path):
    """Refused before anything is written; a sub-folder is fine."""
    images = tmp_path / 'images'
    images.mkdir()
    mmcv.imwrite(mmcv.imread(coco_dir / '000000040083.jpg'), images / 'p.png')
    before = (images / 'p.png').read_bytes()
    code, out, err = run_demo(images, *pose_args, '--out-dir', images)
    assert (code, out) == (1, '')
    assert err == (
        f'error: --out-dir {images} is the input folder: results would be '
        'written among the images (and read as inputs by the next run); '
        'choose another folder, e.g. a sub-folder\n')
    assert sorted(p.name for p in images.iterdir()) == ['p.png']
    # a single image whose drawing would replace it
    code, out, err = run_demo(images / 'p.png', *pose_args, '--out-dir',
                              images)
    assert (code, out) == (1, '')
    assert err == (f'error: --out-dir {images}: writing p.png would '
                   f'overwrite the input {images}/p.png; choose another '
                   'folder\n')
    assert (images / 'p.png').read_bytes() == before
    # results in a sub-folder of the input folder
    code, _, _ = run_demo(images, *pose_args, '--out-dir', images / 'out')
    assert code == 0
    assert sorted(p.name
                  for p in (images / 'out').iterdir()) == ['p.json', 'p.png']


@pytest.mark.parametrize('device,cuda_count', [('cuda', 0), ('cuda:1', 0),
                                               ('gpu', 0), ('cuda:1', 1)])
@pytest.mark.parametrize('backend', ['pytorch', 'onnx', 'int8'])
def test_a_device_the_machine_lacks_is_one_line(run_demo, pose_args, coco_dir,
                                                tmp_path, monkeypatch, device,
                                                cuda_count, backend):
    """`--device cuda` / `cuda:1` / `gpu` on a machine without CUDA (and
    `cuda:1` with one GPU), simulated by stubbing torch.cuda: one line from
    the device check, exit 1, nothing built or written."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda_count > 0)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: cuda_count)
    with pytest.raises(DeviceError) as raised:
        check_device(device)
    code, out, err = run_demo(coco_dir / '000000040083.jpg', *pose_args,
                              '--device', device, '--backend', backend,
                              '--out-dir', tmp_path / 'out')
    assert (code, out) == (1, '')
    assert err == f'error: {raised.value}\n'
    assert not (tmp_path / 'out').exists()


def test_debug_shows_the_traceback(demo, pose_args, coco_dir, tmp_path):
    with pytest.raises(DeviceError):
        run_tool(demo.main, [
            str(coco_dir), *pose_args, '--device', 'gpu', '--out-dir',
            str(tmp_path), '--debug'
        ])


@pytest.mark.parametrize('backend', ['onnx', 'int8'])
def test_missing_onnx_runtime_cuda_provider_is_one_line(
        run_demo, pose_args, coco_dir, tmp_path, monkeypatch, backend):
    """`--device cuda` with the CPU onnxruntime: CUDA is stubbed available
    (the pose model stays on the CPU) and ONNX Runtime lists only its CPU
    provider; the runner's refusal ends the demo in one line."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(onnxruntime, 'get_available_providers',
                        lambda: ['CPUExecutionProvider'])
    init_pose_model = inferencer_module.init_pose_model
    monkeypatch.setattr(inferencer_module, 'init_pose_model',
                        lambda cfg, ckpt, device: init_pose_model(cfg, ckpt))
    built = []

    def runner_on_cuda(model, backend, **kwargs):
        built.append(backend)
        return ort_providers('cuda:0')

    monkeypatch.setattr(deploy, 'build_heatmap_runner', runner_on_cuda)
    with pytest.raises((RuntimeError, ValueError)) as raised:
        ort_providers('cuda:0')
    code, out, err = run_demo(coco_dir / '000000040083.jpg', *pose_args,
                              '--device', 'cuda', '--backend', backend,
                              '--out-dir', tmp_path / 'out')
    assert built == [backend]
    assert code == 1 and 'results written' not in out
    assert err == f'error: {raised.value}\n'
    assert 'onnxruntime-gpu' in err


def test_corrupt_checkpoint_is_one_line(run_demo, pose_config, pose_checkpoint,
                                        coco_dir, tmp_path):
    """A checkpoint cut to half its bytes: one line naming the file."""
    broken = tmp_path / 'broken.pth'
    data = Path(pose_checkpoint).read_bytes()
    broken.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError) as raised:
        load_model_checkpoint(torch.nn.Linear(1, 1), str(broken))
    code, out, err = run_demo(coco_dir / '000000040083.jpg', '--pose-config',
                              pose_config, '--pose-checkpoint', broken,
                              '--out-dir', tmp_path / 'out')
    assert code == 1 and 'results written' not in out
    assert err == f'error: {raised.value}\n'
    assert str(broken) in err


@pytest.mark.slow
def test_checkpoint_of_another_model_is_one_line(run_demo, trained_sample,
                                                 repo_root, coco_dir,
                                                 tmp_path):
    """The main job's trained sample checkpoint (2-stack Newell network)
    given with the HG-52 config: one line naming the checkpoint and a
    mismatching key, exit 1, no pose drawn."""
    from mmpose.apis import init_model
    config = str(repo_root / HG52_CONFIG)
    checkpoint = str(trained_sample['checkpoint'])
    with pytest.raises(CheckpointError) as raised:
        load_model_checkpoint(
            init_model(config, None, device='cpu'), checkpoint, config)
    message = str(raised.value)
    assert checkpoint in message and 'backbone.' in message
    code, out, err = run_demo(coco_dir / '000000040083.jpg', '--pose-config',
                              config, '--pose-checkpoint', checkpoint,
                              '--out-dir', tmp_path / 'out')
    assert code == 1 and 'results written' not in out
    assert err == f'error: {message}\n'
    assert not (tmp_path / 'out').exists()
