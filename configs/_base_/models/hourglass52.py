# HG-52: mmpose's HourglassNet(num_stacks=1) (CornerNet-style hourglass) as
# `CornerHourglassNet`, without the unused inter-stack block, and a 1x1 heatmap
# output per stack. Top-level configs set `codec` and `model.head.decoder`.
# Input side: a multiple of 128 px; heatmaps at 1/4 of the input size.
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='CornerHourglassNet', num_stacks=1),
    head=dict(
        type='StackedHeatmapHead',
        in_channels=256,
        out_channels=16,
        num_stages=1,
        # decoder: the codec, set by each top-level config
        loss=dict(type='KeypointMSELoss', use_target_weight=True)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
