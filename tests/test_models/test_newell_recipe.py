"""configs/newell_hourglass8_mpii_256.py against the authors' training code.

The reference is princeton-vl/pytorch_stacked_hourglass, written here from
reading it: ``task/loss.py`` ``HeatmapLoss`` is
``((pred - gt)**2).mean(dim=3).mean(dim=2).mean(dim=1)`` per sample for
one stack; ``models/posenet.py`` ``calc_loss`` stacks it over the stacks to
(B, S) and ``task/pose.py`` trains on ``torch.mean`` of that; its inputs are
RGB / 255 (``data/MPII/dp.py``). Newell's Torch code (pose-hg-train) sums
one ``MSECriterion`` per stack instead. docs/recipes.md has the full table.
"""
import copy
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from tests.conftest import DATA_DIR, REPO_ROOT

CONFIG = REPO_ROOT / 'configs' / 'newell_hourglass8_mpii_256.py'
STACKS = 2  # Newell's network at 2 stacks and width 32: the same loss path


def heatmap_loss(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """The port's ``HeatmapLoss``: (B, K, H, W) -> (B,)."""
    return ((pred - gt)**2).mean(dim=3).mean(dim=2).mean(dim=1)


@pytest.fixture(scope='module')
def newell():
    """The config, a 2-stack model of it and a real training batch (the 5
    people of data/, config pipeline, seeded; two have unannotated
    ankles)."""
    from mmpose.registry import DATASETS, MODELS

    import hourglass_plugin  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(CONFIG))
    cfg.train_dataloader.dataset.data_root = str(DATA_DIR)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = []
    for index in range(len(dataset)):
        random.seed(index)
        np.random.seed(index)
        samples.append(dataset[index])
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(num_stacks=STACKS, feat_channels=32)
    model_cfg.head.num_stages = STACKS
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).train()
    return dict(cfg=cfg, model=model, batch=pseudo_collate(samples))


def stack_outputs(model, batch):
    """(preprocessed data, per-stack heatmaps, targets (B, K, H, W),
    keypoint weights (B, K))."""
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    feats = model.extract_feat(data['inputs'])
    samples = data['data_samples']
    gt = torch.stack([s.gt_fields.heatmaps for s in samples])
    weights = torch.cat(
        [s.gt_instance_labels.keypoint_weights for s in samples])
    return data, feats, model.head.forward(feats), gt, weights


def test_inputs_are_rgb_over_255_and_targets_sigma_1_at_64(newell):
    model, batch = newell['model'], newell['batch']
    data, _, heatmaps, gt, weights = stack_outputs(model, batch)
    bgr = torch.stack(batch['inputs']).float()
    torch.testing.assert_close(data['inputs'], bgr[:, [2, 1, 0]] / 255)
    assert newell['cfg'].codec['sigma'] == 1
    assert gt.shape == heatmaps[-1].shape == (5, 16, 64, 64)
    # a visible joint's target: MSRAHeatmap's unit peak, e^-1/2 one pixel
    # away (sigma 1), exactly 0 four pixels away (its 7x7 patch)
    person, joint = torch.nonzero(weights > 0)[0].tolist()
    y, x = divmod(int(gt[person, joint].argmax()), 64)
    assert 4 <= x < 60 and 4 <= y < 60
    patch = gt[person, joint]
    assert patch[y, x] == 1.0
    assert patch[y, x + 1] == pytest.approx(np.exp(-0.5))
    assert patch[y, x + 4] == 0.0
    # two of the people have unannotated ankles: weight 0, all-zero target
    assert (weights == 0).sum() == 4
    assert gt[weights == 0].abs().sum() == 0


def test_per_stack_loss_is_the_ports_heatmap_loss(newell):
    """On the people with every joint annotated, each stack's loss is the
    port's HeatmapLoss averaged over the batch and the stacks are summed;
    an unannotated joint (keypoint weight 0) is left out of ours, while the
    port trains it towards an all-zero heatmap."""
    model = newell['model']
    data, feats, heatmaps, gt, weights = stack_outputs(model, newell['batch'])
    samples = data['data_samples']
    port = torch.stack([heatmap_loss(h, gt) for h in heatmaps], dim=1)
    assert port.shape == (5, STACKS) and port.min() > 1e-3
    ours = model.head.loss(feats, samples)

    full = (weights > 0).all(dim=1)
    assert full.sum() == 3  # the people without unannotated joints
    people = torch.nonzero(full).flatten().tolist()
    ours_full = model.head.loss([f[people] for f in feats],
                                [samples[i] for i in people])
    for s in range(STACKS):
        torch.testing.assert_close(ours_full[f'kpt_stack{s}'], port[people,
                                                                    s].mean())
    # summed over stacks: S x the port's mean over (batch, stacks), and
    # the Torch code's sum of one MSECriterion per stack
    torch.testing.assert_close(ours_full['loss_kpt'],
                               STACKS * port[people].mean())

    # all 5 people: the unannotated ankles count as zero error in ours
    masked = torch.stack(
        [heatmap_loss(h * weights[..., None, None], gt) for h in heatmaps],
        dim=1)
    torch.testing.assert_close(ours['loss_kpt'], STACKS * masked.mean())
    assert ours['loss_kpt'] < STACKS * port.mean()
