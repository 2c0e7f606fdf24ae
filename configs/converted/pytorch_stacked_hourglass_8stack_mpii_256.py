# Newell 8-stack hourglass with the weights of princeton-vl's PyTorch port
# (the paper authors' group),
#   https://github.com/princeton-vl/pytorch_stacked_hourglass
# checkpoint: http://www-personal.umich.edu/~cnris/original_8hg/checkpoint.pt
# published MPII val PCKh@0.5: 0.902 (their README; their test.py, flip test)
#
# Convert, then test or run:
#   .venv/bin/python tools/convert_checkpoint.py checkpoint.pt \
#       hg8_princeton.pth --from pytorch_stacked_hourglass
#   .venv/bin/python tools/test.py \
#       configs/converted/pytorch_stacked_hourglass_8stack_mpii_256.py \
#       hg8_princeton.pth
#
# Their network is NewellHourglassNet with a bias in every conv (conv_bias);
# the 1x1 skip_layer their Residual builds when input and output widths are
# equal is never used and not built here. Input: RGB / 255, no mean (their
# test.py: inp = img / 255); 256x256 -> 64x64 heatmaps; flip test averages
# the heatmaps of the image and of its mirror, flipped back with no shift
# (their test.py). Keypoints are decoded by mmpose's codec (their decoder adds
# half a heatmap pixel more). Crops: theirs are 200 x scale px around the
# centre of pose-hg-train's annot .h5 files, whose scale already holds the
# x1.25 padding (pose-hg-train issue #32): mmpose's GetBBoxCenterScale
# padding 1.25 on the HRNet-format scale here.
_base_ = ['../newell_hourglass8_mpii_256.py']

num_stacks = 8
model = dict(
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.]),
    backbone=dict(num_stacks=num_stacks, conv_bias=True),
    head=dict(num_stages=num_stacks),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))
