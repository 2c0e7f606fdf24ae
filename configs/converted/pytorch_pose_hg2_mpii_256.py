# Newell 2-stack hourglass with the weights of bearpaw/pytorch-pose hg_s2_b1,
# https://github.com/bearpaw/pytorch-pose
# checkpoints (Google Drive, linked from their README):
#   https://drive.google.com/drive/folders/0B63t5HSgY4SQQ2FBRE5rQ2EzbjQ
# published MPII val PCKh@0.5: 86.95 (best epoch; 86.76 last; their README)
#
#   .venv/bin/python tools/convert_checkpoint.py model_best.pth.tar \
#       hg2_bearpaw.pth --from pytorch_pose [--mean-std mean.pth.tar]
#   .venv/bin/python tools/test.py \
#       configs/converted/pytorch_pose_hg2_mpii_256.py hg2_bearpaw.pth
#
# Same network, input normalisation and flip test as the 8-stack config.
_base_ = ['./pytorch_pose_hg8_mpii_256.py']

num_stacks = 2
model = dict(
    backbone=dict(num_stacks=num_stacks), head=dict(num_stages=num_stacks))
