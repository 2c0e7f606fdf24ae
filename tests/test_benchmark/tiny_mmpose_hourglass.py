# A tiny stand-in for mmpose's own HG-52 MPII config (tests only): mmpose's
# model-zoo config with a 2-level, 1-block HourglassNet at 64x64 input (16x16
# heatmaps). It does not load hourglass_plugin, so the benchmark counts it as
# an mmpose model; dataset, evaluator (MpiiPCKAccuracy) and the data_root-
# prefixed headbox_file are mmpose's.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_hourglass52_8xb64-210e_mpii-256x256.py'
]

codec = dict(
    type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1)

model = dict(
    backbone=dict(
        downsample_times=2,
        stage_channels=(256, 64, 64),
        stage_blocks=(1, 1, 1),
        feat_channel=64),
    head=dict(in_channels=64, decoder=codec))

val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
val_dataloader = dict(
    batch_size=5,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
# learning rate 0: every training step sees the initial weights, so the
# training-mode test can compare losses across memory formats exactly
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.0))
