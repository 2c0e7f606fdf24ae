# HG-52 (configs/hourglass52_mpii_256.py) at 128x128 input (32x32 heatmaps),
# trained on the 5 embedded MPII people of data/ for the int8 accuracy tests:
# a network with peaked heatmaps, as deployed ones have (random weights give
# flat heatmaps whose argmax any rounding moves). Not an accuracy figure.
_base_ = ['../../configs/hourglass52_mpii_256.py']

codec = dict(
    type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32), sigma=2)

model = dict(head=dict(decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=5,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root='data/', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=5,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root='data/', pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=60, val_interval=60)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=60,
        milestones=[50],
        gamma=0.1,
        by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=60, max_keep_ckpts=1))
