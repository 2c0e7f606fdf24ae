"""Hooks that make interrupted training resumable bit-for-bit."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed python, numpy and torch at the start of every training epoch.

    mmengine seeds once when the Runner starts. A run resumed from the
    checkpoint of epoch ``k`` therefore draws different data augmentations
    (random flip/scale/rotation come from numpy's global generator) than the
    uninterrupted run did in epoch ``k + 1``. Seeding every epoch from
    ``(seed, epoch, rank)`` makes epoch ``k + 1`` identical in both, so with
    ``num_workers=0`` the losses after a resume equal those of an
    uninterrupted run. (Data-loader workers are seeded by mmengine's
    ``worker_init_fn``; the sampler's shuffle is already seeded by epoch.)

    Args:
        seed (int, optional): Base seed; defaults to the Runner's seed.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed

    def before_train_epoch(self, runner: Runner) -> None:
        """Seed all generators from (seed, epoch, rank)."""
        base = self.seed if self.seed is not None else runner.seed
        seed = (int(base) + 1000003 * runner.epoch + 7919 * runner.rank) \
            % (2**32)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
