# RTMDet-nano person detector (one class, 'person') at 320x320: the fast
# detector of mmpose's RTMPose demos. Inference config for
# hourglass_plugin.apis / tools/topdown_demo.py (training settings of these
# weights: mmpose projects/rtmpose/rtmdet/person/).
#
# Checkpoint (trained on COCO + Objects365 person):
#   https://download.openmmlab.com/mmpose/v1/projects/rtmpose/rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.pth  # noqa: E501
# Source: mmpose 1.3 demo/mmdetection_cfg/rtmdet_nano_320-8xb32_coco-person.py.
# Class index of 'person' in this detector's output: 0 (`--det-cat-id 0`).
_base_ = 'mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py'

input_shape = 320

model = dict(
    backbone=dict(
        deepen_factor=0.33,
        widen_factor=0.25,
        use_depthwise=True,
    ),
    neck=dict(
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        use_depthwise=True,
    ),
    bbox_head=dict(
        in_channels=64,
        feat_channels=64,
        share_conv=False,
        exp_on_reg=False,
        use_depthwise=True,
        num_classes=1),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_shape, input_shape), keep_ratio=True),
    dict(
        type='Pad',
        size=(input_shape, input_shape),
        pad_val=dict(img=(114, 114, 114))),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(dataset=dict(metainfo=dict(classes=('person', ))))
val_dataloader = dict(
    dataset=dict(pipeline=test_pipeline, metainfo=dict(classes=('person', ))))
test_dataloader = val_dataloader
