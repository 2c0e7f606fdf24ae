# Newell 8-stack hourglass with the weights of bearpaw/pytorch-pose hg_s8_b1
# (8 stacks, 1 residual block per position),
#   https://github.com/bearpaw/pytorch-pose
# checkpoints (Google Drive, linked from their README):
#   https://drive.google.com/drive/folders/0B63t5HSgY4SQQ2FBRE5rQ2EzbjQ
# published MPII val PCKh@0.5: 88.78 (best epoch; 88.64 last; their README)
#
#   .venv/bin/python tools/convert_checkpoint.py model_best.pth.tar \
#       hg8_bearpaw.pth --from pytorch_pose [--mean-std mean.pth.tar]
#   .venv/bin/python tools/test.py \
#       configs/converted/pytorch_pose_hg8_mpii_256.py hg8_bearpaw.pth
#
# Their HourglassNet is NewellHourglassNet with a bias in every conv
# (conv_bias) and a wider stem: its residuals (layer1..3) are 64 -> 128 ->
# 256 -> 256, not Newell's 64 -> 128 -> 128 -> 256, because layer2 is built
# from the 128 channels layer1 leaves in self.inplanes (stem_widths).
# Input (pose/utils/transforms.py color_normalize): RGB / 255 minus the
# per-channel MPII mean of their data/mpii/mean.pth.tar, which
# their training log prints as 0.4404, 0.4440, 0.4327; the std stored beside
# it (0.2458, 0.2410, 0.2468) is NOT applied by their code. If your
# mean.pth.tar differs, `--mean-std` prints the lines to put here.
# 256x256 -> 64x64 heatmaps; flip test: heatmaps of the mirrored image
# flipped back with no shift and added (their example/main.py).
_base_ = ['../newell_hourglass8_mpii_256.py']

num_stacks = 8
rgb_mean = [0.4404, 0.4440, 0.4327]  # [0, 1] images
model = dict(
    data_preprocessor=dict(
        mean=[255. * m for m in rgb_mean], std=[255., 255., 255.]),
    backbone=dict(
        num_stacks=num_stacks, conv_bias=True, stem_widths=(128, 256, 256)),
    head=dict(num_stages=num_stacks),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))
