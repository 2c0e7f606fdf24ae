# HG-52 on MPII, 384x384 input -> 96x96 heatmaps: mmpose's published recipe
# (td-hm_hourglass52_8xb32-210e_mpii-384x384). Effective batch size:
# 8 GPUs x 32 = 256. With N GPUs, --auto-scale-lr scales the learning rate by
# N*32/256. (mmpose's own 384 config inherits base 512 from its 256 config,
# which would halve the published learning rate.)
_base_ = ['./hourglass52_mpii_256.py']

auto_scale_lr = dict(base_batch_size=256)

codec = dict(
    type='MSRAHeatmap', input_size=(384, 384), heatmap_size=(96, 96), sigma=2)

model = dict(head=dict(decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0),
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

train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
