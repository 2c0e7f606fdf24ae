"""MPII records checked as MPII defines them, by tools/check_dataset.py and
at training start-up; image loads retried once; load errors of non-local
file backends."""
import json
import shutil
from pathlib import Path

import pytest

from hourglass_plugin.engine import data_check
from hourglass_plugin.engine.cli import run_tool
from tests.conftest import SAMPLE_CONFIG, load_tool


@pytest.fixture
def box_root(data_dir: Path, tmp_path: Path) -> Path:
    """A copy of data/ whose training records 1, 2 and 3 have, in turn:
    center (-1, -1), scale 25, and a box far right of its 1280x720
    image."""
    root = tmp_path / 'box_data'
    for sub in ('images', 'annotations'):
        shutil.copytree(data_dir / sub, root / sub)
    ann = root / 'annotations' / 'mpii_train.json'
    records = json.loads(ann.read_text())
    records[1]['center'] = [-1, -1]
    records[2]['scale'] = 25.0
    records[3]['center'] = [5000.0, 300.0]
    ann.write_text(json.dumps(records))
    return root


def test_check_dataset_lists_boxes_that_cannot_be_cropped(box_root, capsys):
    tool = load_tool('check_dataset')
    assert tool.main([
        str(SAMPLE_CONFIG), '--cfg-options',
        f'train_dataloader.dataset.data_root={box_root}/'
    ]) == 1
    ann = box_root / 'annotations' / 'mpii_train.json'
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith(f'{ann}, record ')
    ]
    assert lines[0] == (f'{ann}, record 1: center [-1, -1] is MPII\'s "no '
                        'position" marker: no person box to crop')
    assert lines[1] == (f'{ann}, record 2: scale 25 outside the sane range '
                        '0.2-20 (person height 40-4000 px)')
    record = json.loads(ann.read_text())[3]
    half = record['scale'] * 100
    cy = 300 + 15 * record['scale'] - 1
    assert lines[2] == (
        f"{ann}, record 3: image {box_root}/images/{record['image']}: "
        f'person box ({4999 - half:.1f}, {cy - half:.1f}, {4999 + half:.1f}, '
        f'{cy + half:.1f}) does not overlap the 1280x720 image (0-based '
        'pixels)')
    assert len(lines) == 3


def test_training_start_up_names_the_record_in_one_line(
        box_root, tmp_path, capsys):
    train = load_tool('train')
    with pytest.raises(SystemExit) as info:
        run_tool(train.main, [
            str(SAMPLE_CONFIG), '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            f'train_dataloader.dataset.data_root={box_root}/'
        ])
    assert info.value.code == 1
    ann = box_root / 'annotations' / 'mpii_train.json'
    assert capsys.readouterr().err == (
        f'error: {ann}, record 1: center [-1, -1] is MPII\'s "no position" '
        "marker: no person box to crop (1 such record(s) in the file; "
        "bad_boxes='drop' leaves them out)\n")


class Flaky:
    """A loader that fails its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, results: dict) -> dict:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError('connection reset by peer')
        return dict(results, img='pixels')


def test_a_failed_load_is_retried_once(monkeypatch):
    monkeypatch.setattr(data_check.GuardedImageLoad, 'RETRY_PAUSE', 0.0)
    once = Flaky(1)
    loaded = data_check.GuardedImageLoad(once)(dict(img_path='x.jpg'))
    assert loaded['img'] == 'pixels' and once.calls == 2
    twice = Flaky(2)
    with pytest.raises(data_check.ImageLoadFailure, match='file not found'):
        data_check.GuardedImageLoad(twice)(dict(img_path='x.jpg'))
    assert twice.calls == 2


def test_non_local_load_errors_say_what_happened():
    err = OSError('503 Service Unavailable')
    assert data_check.describe_load_error(
        'http://example.com/images/1.jpg',
        err) == 'cannot load through HTTPBackend (503 Service Unavailable)'
    assert data_check.describe_load_error(
        'data/images/1.jpg', err,
        dict(backend='http')) == ('cannot load through HTTPBackend (503 '
                                  'Service Unavailable)')
