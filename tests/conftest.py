"""Shared pytest fixtures: repository paths and the real data folders."""
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / 'data'
SHARED_DATA_DIR = REPO_ROOT.parent / 'shared' / 'data'

# keep every test single-threaded-ish on the 2-core CI machine
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """The repository root (folder holding setup.cfg)."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def data_dir() -> Path:
    """The embedded MPII sample (data/)."""
    return DATA_DIR


@pytest.fixture(scope='session')
def shared_data_dir() -> Path:
    """../shared/data beside the repository (real MPII/COCO test data)."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.fail(f'shared data folder missing: {SHARED_DATA_DIR}')
    return SHARED_DATA_DIR


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', REPO_ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
