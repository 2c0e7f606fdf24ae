"""HG-52 trains under plain DDP (find_unused_parameters=False) on CPU.

Two gloo processes run two full training steps (``model(mode='loss')`` on a
real MPII crop with its heatmap target, backward, SGD step) of a
DistributedDataParallel(TopdownPoseEstimator). mmpose's HourglassNet, whose
inter-stack block never receives a gradient at one stack, makes DDP raise at
the start of the second step; ours trains.
"""
import copy
import traceback
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from torch.nn.parallel import DistributedDataParallel

INPUT_SIZE = (128, 128)  # HG-52's smallest input: 4 * 2^5
CONFIG = (Path(__file__).resolve().parents[2] / 'configs' /
          'hourglass52_mpii_256.py')


def model_cfg(backbone_type: str) -> dict:
    """The HG-52 model of our config with the given backbone class."""
    cfg = copy.deepcopy(Config.fromfile(str(CONFIG)).model.to_dict())
    cfg['backbone']['type'] = backbone_type
    return cfg


def train_two_steps(rank: int, init_file: str, cfg: dict,
                    result_dir: str) -> None:
    """Worker: two DDP training steps; writes 'ok' or the traceback."""
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    try:
        import hourglass_plugin  # noqa: F401
        from mmengine.registry import init_default_scope
        from mmpose.registry import MODELS

        from mpii_samples import mpii_batch
        init_default_scope('mmpose')
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        ddp = DistributedDataParallel(
            model, device_ids=None, find_unused_parameters=False)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=1e-3)
        # two people per rank: batch norm at the 1x1 level needs 2 values
        people = [2 * rank, 2 * rank + 1]
        batch = model.data_preprocessor(
            mpii_batch(people, INPUT_SIZE, with_target=True), training=True)
        for _ in range(2):
            losses = ddp(**batch, mode='loss')
            loss, _ = model.parse_losses(losses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        outcome = 'ok'
    except Exception:  # reported to the test process
        outcome = traceback.format_exc()
    finally:
        dist.destroy_process_group()
    Path(result_dir, f'rank{rank}.txt').write_text(outcome)


def run_ddp(cfg: dict, tmp_path: Path) -> list:
    """Run both workers; return their outcomes."""
    mp.spawn(
        train_two_steps,
        args=(str(tmp_path / 'init'), cfg, str(tmp_path)),
        nprocs=2,
        join=True)
    return [(tmp_path / f'rank{r}.txt').read_text() for r in range(2)]


def test_plain_ddp_trains_ours(tmp_path):
    outcomes = run_ddp(model_cfg('CornerHourglassNet'), tmp_path)
    assert outcomes == ['ok', 'ok'], '\n'.join(outcomes)


def test_plain_ddp_fails_with_mmpose_hourglassnet(tmp_path, monkeypatch):
    """The failure our backbone removes (mmpose's HourglassNet, 1 stack)."""
    monkeypatch.setenv('TORCH_DISTRIBUTED_DEBUG', 'INFO')  # name parameters
    cfg = model_cfg('HourglassNet')
    cfg['backbone']['num_stacks'] = 1
    outcomes = run_ddp(cfg, tmp_path)
    for outcome in outcomes:
        assert 'Expected to have finished reduction in the prior ' \
            'iteration' in outcome, outcome
        unused = outcome.split('did not receive grad for rank')[1]
        unused = unused.split('\n')[1]  # the parameter names
        assert set(unused.split(', ')) == {
            f'backbone.inters.0.{name}'
            for name in ('conv1.weight', 'bn1.weight', 'bn1.bias',
                         'conv2.weight', 'bn2.weight', 'bn2.bias')
        }, outcome
