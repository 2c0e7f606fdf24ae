# Newell et al. 2016, 8-stack hourglass on MPII: 256x256 input -> 64x64
# heatmaps, Gaussian sigma 1 px, loss on every stack (intermediate
# supervision), RMSprop 2.5e-4 ("Training Details"; docs/recipes.md).
# Effective batch size: 1 GPU x 6 (the reference code's trainBatch). With more
# GPUs pass --auto-scale-lr: lr scales by N*6/6.
_base_ = [
    './_base_/default_runtime.py',
    './_base_/datasets/mpii_topdown.py',
    './_base_/schedules/rmsprop_newell.py',
    './_base_/models/newell_hourglass.py',
]

auto_scale_lr = dict(base_batch_size=6)

codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=1)

model = dict(backbone=dict(num_stacks=8), head=dict(decoder=codec))

# Newell et al. 2016, "Training Details": rotation +-30 deg, scaling
# .75-1.25; flip; the Torch code (pose-hg-train) rotates 40% of samples and
# jitters colour per channel; mmpose's PhotometricDistortion is the closest
# library transform (docs/recipes.md sets every setting beside the sources).
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.75, 1.25),
        rotate_factor=30,
        rotate_prob=0.4),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PhotometricDistortion'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]

train_dataloader = dict(batch_size=6, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
