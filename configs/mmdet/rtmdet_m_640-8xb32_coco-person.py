# RTMDet-m person detector (one class, 'person'), the detector mmpose's
# MMPoseInferencer uses by default for human top-down pose estimation.
# Inference config for hourglass_plugin.apis / tools/topdown_demo.py.
#
# Checkpoint (trained on COCO + Objects365 person, 640x640 input):
#   https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth  # noqa: E501
# Source: mmpose 1.3 demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-person.py.
# Class index of 'person' in this detector's output: 0 (`--det-cat-id 0`).
_base_ = 'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py'

model = dict(
    bbox_head=dict(num_classes=1),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))

train_dataloader = dict(dataset=dict(metainfo=dict(classes=('person', ))))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=('person', ))))
test_dataloader = val_dataloader
