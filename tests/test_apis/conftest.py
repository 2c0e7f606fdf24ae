"""Fixtures for the top-down inference tests: a small pose model with a
random-init checkpoint, the real COCO multi-person images with real
person-detector boxes, and tools/topdown_demo.py run as from the shell."""
from pathlib import Path
from types import ModuleType
from typing import Callable, Tuple

import pytest
import torch
from mmpose.apis import init_model

import hourglass_plugin  # noqa: F401  (registers the models)
from hourglass_plugin.engine.cli import run_tool
from tests.conftest import load_tool

# The sample Newell config: 2 stacks, 128x128 input, 32x32 heatmaps.
POSE_CONFIG = 'configs/sample/newell_hourglass2_sample_128.py'
# One-class RTMDet-nano person detector (the fastest of configs/mmdet/).
DET_CONFIG = 'configs/mmdet/rtmdet_nano_320-8xb32_coco-person.py'


@pytest.fixture(scope='session')
def pose_config(repo_root: Path) -> str:
    """Path of the pose config the tests run."""
    return str(repo_root / POSE_CONFIG)


@pytest.fixture(scope='session')
def det_config(repo_root: Path) -> str:
    """Path of the mmdet person-detector config the tests run."""
    return str(repo_root / DET_CONFIG)


@pytest.fixture(scope='session')
def pose_checkpoint(pose_config: str, tmp_path_factory) -> str:
    """A checkpoint of the pose model at its initial (random) weights, in
    mmpose's format: ``state_dict`` plus ``meta.dataset_meta``."""
    torch.manual_seed(0)
    model = init_model(pose_config, None, device='cpu')
    path = tmp_path_factory.mktemp('pose_ckpt') / 'pose_random.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=model.dataset_meta)), path)
    return str(path)


@pytest.fixture(scope='session')
def det_file(coco_dir: Path) -> Path:
    """118 real person-detector results for the 4 images (COCO format)."""
    return coco_dir / 'test_coco_det_AP_H_56.json'


@pytest.fixture(scope='session')
def demo() -> ModuleType:
    """tools/topdown_demo.py as a module (tools/ is not a package)."""
    return load_tool('topdown_demo')


@pytest.fixture
def run_demo(demo: ModuleType, capsys) -> Callable[..., Tuple[int, str, str]]:
    """``run_demo(*argv)`` runs the demo as ``python tools/topdown_demo.py
    argv`` does (``run_tool(main)``) and returns its exit code, stdout and
    stderr."""

    def run(*argv) -> Tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            run_tool(demo.main, [str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run
