# Newell 2-stack hourglass with the weights of princeton-vl's PyTorch port,
# https://github.com/princeton-vl/pytorch_stacked_hourglass
# checkpoint: http://www-personal.umich.edu/~cnris/original_2hg/checkpoint.pt
# published MPII val PCKh@0.5: 0.883 (their README)
#
#   .venv/bin/python tools/convert_checkpoint.py checkpoint.pt \
#       hg2_princeton.pth --from pytorch_stacked_hourglass
#   .venv/bin/python tools/test.py \
#       configs/converted/pytorch_stacked_hourglass_2stack_mpii_256.py \
#       hg2_princeton.pth
#
# Same network, input normalisation and flip test as the 8-stack config.
_base_ = ['./pytorch_stacked_hourglass_8stack_mpii_256.py']

num_stacks = 2
model = dict(
    backbone=dict(num_stacks=num_stacks), head=dict(num_stages=num_stacks))
