# HG-52 (CornerNet-style hourglass, 1 stack) on MPII, 256x256 input -> 64x64
# heatmaps: mmpose's published recipe
# (td-hm_hourglass52_8xb64-210e_mpii-256x256).
# Effective batch size: 8 GPUs x 64 = 512. With N GPUs, pass --auto-scale-lr to
# scale the learning rate linearly by N*64/512 (auto_scale_lr below).
_base_ = [
    './_base_/default_runtime.py',
    './_base_/datasets/mpii_topdown.py',
    './_base_/schedules/adam_210e.py',
    './_base_/models/hourglass52.py',
]

auto_scale_lr = dict(base_batch_size=512)

# MSRA heatmaps, Gaussian sigma 2 px (heatmap space); decode = argmax +
# quarter-pixel refinement (codec type='MSRAHeatmap', unbiased=True for DARK)
codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)

model = dict(head=dict(decoder=codec))

# flip, scale 0.5-1.5 (x bbox), rotation +-80 deg with p=0.6 (mmpose defaults
# of RandomBBoxTransform), no shift
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

train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
