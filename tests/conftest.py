"""Shared pytest fixtures: repository paths, the real data folders, one
trained sample checkpoint, and the ``gpu`` marker's skip on CPU machines."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / 'data'
SAMPLE_CONFIG = REPO_ROOT / 'configs' / 'sample' / (
    'newell_hourglass2_sample_128.py')

# keep every test single-threaded-ish on the 2-core CI machine
os.environ.setdefault('OMP_NUM_THREADS', '2')

# the first test that uses ``trained_sample`` also pays for its training
# (~1.5 min on 2 idle cores; several times that on a loaded machine)
TRAINED_SAMPLE_TIMEOUT = 900


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: List[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests, with the reason, without CUDA; give
    tests that use ``trained_sample`` a timeout that covers its training."""
    skip = pytest.mark.skip(
        reason='needs a CUDA GPU (torch.cuda.is_available() is False)')
    for item in items:
        if 'gpu' in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip)
        if 'trained_sample' in getattr(item, 'fixturenames', ()):
            own = item.get_closest_marker('timeout')
            seconds = max(own.args[0] if own and own.args else 0,
                          TRAINED_SAMPLE_TIMEOUT)
            item.add_marker(pytest.mark.timeout(seconds), append=False)


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """The repository root (folder holding setup.cfg)."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def data_dir() -> Path:
    """The embedded real data (data/): MPII sample, COCO multi-person
    images, MPII validation ground truth."""
    return DATA_DIR


@pytest.fixture(scope='session')
def coco_dir() -> Path:
    """data/coco_multi: 4 real COCO val2017 images with 1, 3, 5 and 5
    people, their ground truth and real person-detector results."""
    return DATA_DIR / 'coco_multi'


@pytest.fixture(scope='session')
def val_gt_dir() -> Path:
    """data/mpii_val_gt: the standard MPII validation split (2,958 people,
    ``valid.json`` and ``gt_valid.mat``), no images."""
    return DATA_DIR / 'mpii_val_gt'


@pytest.fixture(scope='session')
def trained_sample(
        tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The main job, trained once per test session: ``tools/train.py`` on
    ``configs/sample/newell_hourglass2_sample_128.py`` (150 epochs on the 5
    people of data/, ~1.5 min on 2 cores). Returns ``config``,
    ``checkpoint`` (the last one) and ``work_dir`` (its logs and
    ``vis_data/scalars.json``). Tests that use it are ``slow``; they must
    not write into ``work_dir``."""
    work_dir = tmp_path_factory.mktemp('trained_sample')
    subprocess.run([
        sys.executable, 'tools/train.py',
        str(SAMPLE_CONFIG), '--work-dir',
        str(work_dir)
    ],
                   cwd=REPO_ROOT,
                   env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                   check=True,
                   stdout=subprocess.DEVNULL)
    checkpoint = Path((work_dir / 'last_checkpoint').read_text().strip())
    return dict(config=SAMPLE_CONFIG, checkpoint=checkpoint, work_dir=work_dir)


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', REPO_ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
