# Newell et al. 2016: 8 stacked hourglasses with intermediate supervision.
# The backbone predicts the heatmaps of every stack (stack s+1 consumes stack
# s's predictions), so the head has no output conv (final_layer=None) and only
# supervises each stack and decodes the last one. To change the stack count,
# set both model.backbone.num_stacks and model.head.num_stages.
# Top-level configs set `codec` and `model.head.decoder`.
# Input side: a multiple of 64 px; heatmaps at 1/4 of the input size.
# Inputs scaled to [0, 1] RGB, as the reference Torch code.
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True),
    backbone=dict(type='NewellHourglassNet', num_keypoints=16, num_stacks=8),
    head=dict(
        type='StackedHeatmapHead',
        in_channels=16,
        out_channels=16,
        num_stages=8,
        final_layer=None,
        # decoder: the codec, set by each top-level config
        loss=dict(type='KeypointMSELoss', use_target_weight=True)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
