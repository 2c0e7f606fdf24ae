"""HG-52 trains under plain DDP (find_unused_parameters=False) on CPU.

Two gloo processes run two full training steps (``model(mode='loss')`` on a
real MPII crop with its heatmap target, backward, SGD step) of a
DistributedDataParallel(TopdownPoseEstimator) built from
configs/hourglass52_mpii_256.py: every parameter gets a gradient in every
step (DDP raises at the second step otherwise), and the ranks end with the
same weights.
"""
import copy
import traceback
from pathlib import Path
from typing import Dict, List

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config
from torch.nn.parallel import DistributedDataParallel

INPUT_SIZE = (128, 128)  # HG-52's smallest input: 4 * 2^5
CONFIG = (
    Path(__file__).resolve().parents[2] / 'configs' /
    'hourglass52_mpii_256.py')


def model_cfg() -> dict:
    """The HG-52 model of our config."""
    return copy.deepcopy(Config.fromfile(str(CONFIG)).model.to_dict())


def train_two_steps(rank: int, init_file: str, cfgs: Dict[str, dict],
                    result_dir: str) -> None:
    """Worker: two DDP training steps of each model in ``cfgs``; writes,
    per model, 'ok', the last loss and checksums of the trained and the
    initial weights, or the traceback."""
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from mpii_samples import mpii_batch

    import hourglass_plugin  # noqa: F401
    init_default_scope('mmpose')
    for name, cfg in cfgs.items():
        try:
            torch.manual_seed(0)
            model = MODELS.build(cfg)
            initial = sum(p.detach().double().sum()
                          for p in model.parameters())
            ddp = DistributedDataParallel(
                model, device_ids=None, find_unused_parameters=False)
            optimizer = torch.optim.SGD(ddp.parameters(), lr=1e-3)
            # two people per rank: batch norm at the 1x1 level needs 2 values
            people = [2 * rank, 2 * rank + 1]
            batch = model.data_preprocessor(
                mpii_batch(people, INPUT_SIZE, with_target=True),
                training=True)
            for _ in range(2):
                losses = ddp(**batch, mode='loss')
                loss, _ = model.parse_losses(losses)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            checksum = sum(p.detach().double().sum()
                           for p in model.parameters())
            outcome = (f'ok {loss.item():.6g} {checksum.item():.12g} '
                       f'{initial.item():.12g}')
        except Exception:  # reported to the test process
            outcome = traceback.format_exc()
        Path(result_dir, f'{name}_rank{rank}.txt').write_text(outcome)
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def outcomes(tmp_path_factory) -> Dict[str, List[str]]:
    """The outcome text of rank 0 and 1."""
    result_dir = tmp_path_factory.mktemp('ddp')
    cfgs = dict(ours=model_cfg())
    with pytest.MonkeyPatch.context() as patch:
        # DDP then names the parameters without gradient
        patch.setenv('TORCH_DISTRIBUTED_DEBUG', 'INFO')
        mp.spawn(
            train_two_steps,
            args=(str(result_dir / 'init'), cfgs, str(result_dir)),
            nprocs=2,
            join=True)
    return {
        name: [(result_dir / f'{name}_rank{r}.txt').read_text()
               for r in range(2)]
        for name in cfgs
    }


@pytest.mark.slow
def test_plain_ddp_trains_hg52(outcomes):
    rank0, rank1 = outcomes['ours']
    assert rank0.startswith('ok') and rank1.startswith('ok'), rank0 + rank1
    # gradients were averaged: both ranks hold the same trained weights,
    # and they moved from the initial ones
    assert rank0.split()[2] == rank1.split()[2]
    assert float(rank0.split()[2]) != float(rank0.split()[3])
