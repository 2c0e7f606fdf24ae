"""Our HG-52 configs are mmpose's published MPII recipe, step for step.

mmpose's model-zoo configs are read from the installed mmpose
(``mmpose::body_2d_keypoint/topdown_heatmap/mpii/...``). The settings are
compared key by key; the 256 training datasets are built on data/ and drawn
with the same seeds; the two models, holding the same weights, take the same
loss and gradients on the same batch. The one intended difference is the
coordinate convention: mmpose's ``MpiiDataset`` keeps MPII's 1-based joints
(box centres 0-based), ours makes both 0-based, so mmpose's dataset is given
the annotation file with its joints shifted by -1 once.
"""
import copy
import json
import random
from typing import Dict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

from tests.conftest import DATA_DIR, REPO_ROOT

ZOO = 'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
PAIRS = {
    256: ('hourglass52_mpii_256.py',
          'td-hm_hourglass52_8xb64-210e_mpii-256x256.py'),
    384: ('hourglass52_mpii_384.py',
          'td-hm_hourglass52_8xb32-210e_mpii-384x384.py'),
}
#: (GPUs, images per GPU) of each published run (mmpose's config names)
PUBLISHED_BATCH = {256: (8, 64), 384: (8, 32)}
#: A 2-level hourglass: HG-52's code paths at a third of its cost
SMALL_BACKBONE = dict(
    downsample_times=2, stage_channels=(256, 256, 384), stage_blocks=(1, 1, 2))


def load_pair(size: int):
    """(our config, mmpose's zoo config) at input ``size``."""
    ours, theirs = PAIRS[size]
    return (Config.fromfile(str(REPO_ROOT / 'configs' / ours)),
            get_config(ZOO + theirs))


@pytest.mark.parametrize('size', [256, 384])
def test_settings_equal_mmpose_except_the_loop_seed_and_lr_base(size):
    ours, theirs = load_pair(size)
    for key in ('optim_wrapper', 'param_scheduler', 'codec', 'train_pipeline',
                'val_pipeline', 'val_cfg', 'test_cfg'):
        assert ours[key] == theirs[key], key
    for key in ('data_preprocessor', 'test_cfg'):
        assert ours.model[key] == theirs.model[key], key
    assert ours.model.head.loss == theirs.model.head.loss
    assert ours.model.head.num_stages == theirs.model.head.num_stages == 1
    assert ours.model.backbone.num_stacks == \
        theirs.model.backbone.num_stacks == 1
    for split in ('train', 'val', 'test'):
        a, b = ours[f'{split}_dataloader'], theirs[f'{split}_dataloader']
        assert a.batch_size == b.batch_size, split
        assert a.sampler == b.sampler, split
        assert a.dataset.data_mode == b.dataset.data_mode, split
    # the loop type differs (ours resumes mid-epoch), not its length
    assert (ours.train_cfg.max_epochs, ours.train_cfg.val_interval) == \
        (theirs.train_cfg.max_epochs, theirs.train_cfg.val_interval) == \
        (210, 10)
    # our runs are seeded (mmpose's draw a random seed)
    assert ours.randomness.seed == 0 and theirs.get('randomness') is None
    # --auto-scale-lr base = the published total batch; mmpose's 384
    # config inherits 512 from its 256 config
    gpus, per_gpu = PUBLISHED_BATCH[size]
    assert ours.train_dataloader.batch_size == per_gpu
    assert ours.auto_scale_lr.base_batch_size == gpus * per_gpu
    assert theirs.auto_scale_lr.base_batch_size == 512


@pytest.fixture(scope='module')
def datasets_256(tmp_path_factory) -> Dict:
    """Our and mmpose's HG-52 256 training datasets on data/ (mmpose's
    reading a copy of the annotations with the joints moved by -1 px)."""
    from mmpose.registry import DATASETS

    import hourglass_plugin  # noqa: F401
    init_default_scope('mmpose')
    ours, theirs = load_pair(256)
    records = json.loads(
        (DATA_DIR / 'annotations' / 'mpii_train.json').read_text())
    for record in records:
        record['joints'] = (np.asarray(record['joints']) - 1).tolist()
    shifted = tmp_path_factory.mktemp('mpii') / 'mpii_train_0based.json'
    shifted.write_text(json.dumps(records))
    ours.train_dataloader.dataset.data_root = str(DATA_DIR)
    theirs.train_dataloader.dataset.update(
        data_root=str(DATA_DIR),
        ann_file=str(shifted),
        data_prefix=dict(img=str(DATA_DIR / 'images') + '/'))
    return dict(
        ours=DATASETS.build(ours.train_dataloader.dataset),
        theirs=DATASETS.build(theirs.train_dataloader.dataset),
        configs=(ours, theirs))


def draw(dataset, index: int, seed: int) -> Dict:
    """``dataset[index]`` with python, numpy and torch seeded."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return dataset[index]


def test_same_seed_gives_mmposes_augmented_targets_and_weights(datasets_256):
    ours, theirs = datasets_256['ours'], datasets_256['theirs']
    assert len(ours) == len(theirs) == 5
    flips = set()
    for seed in range(3):
        for index in range(5):
            a = draw(ours, index, 10 * seed + index)
            b = draw(theirs, index, 10 * seed + index)
            sa, sb = a['data_samples'], b['data_samples']
            flips.add(sa.metainfo['flip'])
            assert sa.metainfo['flip'] == sb.metainfo['flip']
            assert torch.equal(sa.gt_fields.heatmaps, sb.gt_fields.heatmaps)
            assert torch.equal(sa.gt_instance_labels.keypoint_weights,
                               sb.gt_instance_labels.keypoint_weights)
            # the same crop: centres and scales agree to float32 rounding
            # (ours in float64, mmpose's in float32), which can move
            # OpenCV's fixed-point bilinear sampling by 1/32 px at an edge
            np.testing.assert_allclose(
                sa.metainfo['input_center'],
                sb.metainfo['input_center'],
                atol=1e-3)
            np.testing.assert_allclose(
                sa.metainfo['input_scale'],
                sb.metainfo['input_scale'],
                rtol=1e-6)
            diff = (a['inputs'].int() - b['inputs'].int()).abs()
            assert diff.max() <= 8 and (diff > 0).float().mean() < 5e-3
    assert flips == {True, False}  # both branches of the augmentation ran


def test_same_weights_give_mmposes_loss_and_gradients(datasets_256):
    """On a 2-level hourglass (same classes and code paths as HG-52)."""
    from mmpose.registry import MODELS
    ours_cfg, theirs_cfg = datasets_256['configs']
    batch = pseudo_collate(
        [draw(datasets_256['ours'], index, index) for index in range(2)])

    def loss_and_model(model_cfg, state_dict=None):
        cfg = copy.deepcopy(model_cfg)
        cfg.backbone.update(SMALL_BACKBONE)
        torch.manual_seed(0)
        model = MODELS.build(cfg).train()
        if state_dict is None:  # heatmaps far from zero: a loss that varies
            torch.nn.init.normal_(
                model.head.multi_final_layers[0].weight, std=0.05)
        else:
            model.load_state_dict(state_dict)
        data = model.data_preprocessor(copy.deepcopy(batch), training=True)
        losses = model(**data, mode='loss')
        losses['loss_kpt'].backward()
        return losses['loss_kpt'], model

    their_loss, theirs = loss_and_model(theirs_cfg.model)
    our_loss, ours = loss_and_model(ours_cfg.model, theirs.state_dict())
    assert their_loss > 0.2  # not the all-zero prediction's 0.0x
    torch.testing.assert_close(our_loss, their_loss, rtol=1e-6, atol=0)
    their_grads = dict(theirs.named_parameters())
    ours_named = dict(ours.named_parameters())
    # every parameter but mmpose's unused inter-stack block is ours
    assert set(their_grads) - set(ours_named) == {
        n
        for n in their_grads if n.startswith('backbone.inters.0.')
    }
    for name, param in ours_named.items():
        torch.testing.assert_close(
            param.grad, their_grads[name].grad, rtol=1e-5, atol=1e-9)
