"""Bad training data: the pre-flight check (tools/check_dataset.py and
``check_images=True``), the one-line error when training meets a bad image,
and ``skip_bad_images``.

The bad copy of data/: record 1's image is a JPEG cut in half, record 3's
image is an empty file, record 4 has its left hip at x = 5000 (1-based json),
outside its 1280x720 image.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

from hourglass_plugin.datasets import MPIIPoseDataset
from hourglass_plugin.engine import DatasetCheckError
from tests.conftest import REPO_ROOT, load_tool
from tests.test_train.test_training import SAMPLE_CONFIG, scalars

EXPECTED = [
    (1, '052475643.jpg', 'truncated (image file is truncated'),
    (3, '004645041.jpg', 'empty file (0 bytes)'),
    (4, '060754485.jpg', 'joint(s) left_hip (4999.0, 19.0) outside the '
     '1280x720 image (0-based pixels)'),
]


@pytest.fixture
def bad_root(data_dir: Path, tmp_path: Path) -> Path:
    """A copy of data/images + data/annotations with the three faults."""
    root = tmp_path / 'bad_data'
    for sub in ('images', 'annotations'):
        shutil.copytree(data_dir / sub, root / sub)
    cut = root / 'images' / '052475643.jpg'
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])
    (root / 'images' / '004645041.jpg').write_bytes(b'')
    ann = root / 'annotations' / 'mpii_train.json'
    records = json.loads(ann.read_text())
    assert [r['image']
            for r in records][1::2] == ['052475643.jpg', '004645041.jpg']
    records[4]['joints'][3] = [5000.0, 20.0]
    records[4]['joints_vis'][3] = 1
    ann.write_text(json.dumps(records))
    return root


def assert_lists_the_three(lines, root: Path):
    ann = root / 'annotations' / 'mpii_train.json'
    assert len(lines) == 3, lines
    for line, (index, image, what) in zip(lines, EXPECTED):
        prefix = f'{ann}, record {index}: image {root}/images/{image}: '
        assert line.startswith(prefix + what), line


def test_check_dataset_tool(bad_root, capsys):
    tool = load_tool('check_dataset')
    assert tool.main([str(REPO_ROOT / SAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert 'all 5 records of data/annotations/mpii_train.json are fine' in out
    assert tool.main(
        [str(REPO_ROOT / SAMPLE_CONFIG), '--split', 'val', '--threads',
         '2']) == 0
    assert 'all 5 records of data/annotations/mpii_val.json' in \
        capsys.readouterr().out

    assert tool.main([
        str(REPO_ROOT / SAMPLE_CONFIG), '--cfg-options',
        f'train_dataloader.dataset.data_root={bad_root}/'
    ]) == 1
    out = capsys.readouterr().out
    assert_lists_the_three(
        [line for line in out.splitlines() if ', record ' in line], bad_root)
    assert '3 bad record(s) of 5' in out


def test_check_images_dataset_option(bad_root):
    init_default_scope('mmpose')
    kwargs = dict(
        data_root=str(bad_root),
        data_prefix=dict(img='images/'),
        ann_file='annotations/mpii_train.json',
        pipeline=[dict(type='LoadImage')],
        check_images=True)
    with pytest.raises(DatasetCheckError) as info:
        MPIIPoseDataset(**kwargs)
    lines = str(info.value).splitlines()
    assert lines[0] == (f'3 bad record(s) in {bad_root}/annotations/'
                        'mpii_train.json (check_images=True):')
    assert_lists_the_three(lines[1:], bad_root)
    # skipping: the good records stay, in order; too many -> stop
    dataset = MPIIPoseDataset(
        **kwargs, skip_bad_images=True, max_bad_fraction=0.6)
    assert [dataset.get_data_info(i)['id'] for i in range(len(dataset))] \
        == [0, 2]
    assert sorted(dataset.skipped) == [1, 3, 4]
    with pytest.raises(
            Exception,
            match='3 of 5 records .* skipped, more '
            'than max_bad_fraction=0.5'):
        MPIIPoseDataset(**kwargs, skip_bad_images=True, max_bad_fraction=0.5)


def train(work_dir: Path, root: Path, *extra: str):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([
        sys.executable, 'tools/train.py', SAMPLE_CONFIG, '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}/',
        'train_dataloader.batch_size=2', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=10', *extra
    ],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)


@pytest.mark.slow
def test_training_on_bad_images_one_line_error_or_skip(bad_root, tmp_path):
    # the error comes from a data-loader worker, still as one line
    proc = train(tmp_path / 'fail', bad_root, 'train_dataloader.num_workers=2')
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    ann = bad_root / 'annotations' / 'mpii_train.json'
    # the first bad image the shuffled order meets
    assert last.startswith(f'error: {ann}, record ') and \
        ': cannot load image ' in last, last
    assert any(f'record {i}: cannot load image {bad_root}/images/{image}: '
               f'{what}' in last for i, image, what in EXPECTED[:2]), last
    assert 'Traceback' not in proc.stderr

    work_dir = tmp_path / 'skip'
    proc = train(work_dir, bad_root,
                 'train_dataloader.dataset.skip_bad_images=True',
                 'train_dataloader.dataset.max_bad_fraction=0.5')
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = next(work_dir.glob('*/*.log')).read_text()
    for index, image, what in EXPECTED[:2]:
        assert (f': {ann}, record {index}: cannot load image '
                f'{bad_root}/images/{image}: {what}') in log
    assert 'skipped (2 so far)' in log
    assert len([r for r in scalars(work_dir) if 'loss' in r]) == 3

    proc = train(tmp_path / 'too_many', bad_root,
                 'train_dataloader.dataset.skip_bad_images=True')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'error: 1 of 5 records of {ann} skipped, more than '
        'max_bad_fraction=0.01; first: ')
