# mmpose's own HG-52 MPII config (model zoo) at 128x128 input (32x32
# heatmaps): the same-size mmpose baseline for the trained 128x128 networks
# of test_int8_trained.py in tools/benchmark.py. It does not load
# hourglass_plugin, so the benchmark counts it as an mmpose model.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_hourglass52_8xb64-210e_mpii-256x256.py'
]

codec = dict(
    type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32), sigma=2)

model = dict(head=dict(decoder=codec))

val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
