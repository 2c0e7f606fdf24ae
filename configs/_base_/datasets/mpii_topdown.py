# MPII Human Pose, top-down, in the standard layout (see README "Data"):
#   {data_root}/images/*.jpg
#   {data_root}/annotations/mpii_{train,val,trainval,test}.json  (HRNet format)
#   {data_root}/annotations/mpii_gt_val.mat                      (head boxes)
# Pipelines depend on the input size, so each model config sets them:
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline)), etc.
# `dataset_info` (joint names, flip pairs, skeleton, weights) is mmpose's own
# MPII metainfo, inherited, not copied. (This file is not named `mpii.py`:
# mmpose's datasets look for their metainfo at the relative path
# 'configs/_base_/datasets/mpii.py' in the working directory first.)
_base_ = ['mmpose::_base_/datasets/mpii.py']

dataset_type = 'MPIIPoseDataset'
data_mode = 'topdown'
data_root = 'data/mpii/'

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/mpii_train.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/mpii_val.json',
        headbox_file='annotations/mpii_gt_val.mat',
        data_prefix=dict(img='images/'),
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='MPIIPCKhMetric')
test_evaluator = val_evaluator
