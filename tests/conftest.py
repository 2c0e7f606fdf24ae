"""Shared pytest fixtures: repository paths and the real data folders."""
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / 'data'

# keep every test single-threaded-ish on the 2-core CI machine
os.environ.setdefault('OMP_NUM_THREADS', '2')


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


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', REPO_ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
