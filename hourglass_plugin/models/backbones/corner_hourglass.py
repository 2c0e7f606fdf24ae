"""CornerNet-style stacked hourglass (HG-52 with one stack, HG-104 with two).

The network of mmpose's ``HourglassNet`` (mmpose/models/backbones/hourglass.py,
after CornerNet, Law & Deng, ECCV 2018), built from mmpose's own
blocks with three fixes:

1. At ``num_stacks=1`` mmpose still builds one inter-stack residual block
   (``inters.0``, 1.18M parameters; ``ResLayer`` always builds its first
   block) that never receives a gradient, so plain ``DistributedDataParallel``
   fails unless ``find_unused_parameters=True``. It is not built here.
2. mmpose's ``HourglassModule`` builds its inner levels without passing
   ``norm_cfg`` on, and ``HourglassNet`` does not pass it to the hourglass at
   all: only the stem and output convs honour it. Here every layer does.
3. An input side that is not a multiple of the total down-sampling (128 for
   the default 5 levels) raises a clear ``ValueError``.

State-dict keys of every kept layer equal mmpose's, and a state-dict
pre-hook drops the unused block's tensors from an mmpose checkpoint while it
loads (as mmpose's own models rename old keys on load), so mmpose's
published HG-52 checkpoints load as they are (``init_model``, ``load_from``,
``--resume``), with no missing or unexpected keys.
"""
import copy
from typing import List, Sequence, Tuple

import torch
from mmcv.cnn import ConvModule
from mmengine.logging import print_log
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.models.backbones.hourglass import HourglassModule
from mmpose.models.backbones.resnet import BasicBlock, ResLayer
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from torch import Tensor, nn

from .input_checks import check_image_batch


class CornerHourglassModule(HourglassModule):
    """One hourglass of ``depth`` levels, ``norm_cfg`` honoured at each level.

    Each level is mmpose's depth-1 ``HourglassModule`` (so its layers, names
    and ``forward`` are mmpose's); for ``depth > 1`` its bottom residual layer
    ``low2`` is replaced by the next, deeper level. With ``C_d =
    stage_channels[0]`` and ``C_n = stage_channels[1]``::

        up1(x)                                  (N, C_d, h, w)    skip branch
        low1(x)   strided BasicBlocks           (N, C_n, h/2, w/2)
        low2      next level (or BasicBlocks)   (N, C_n, h/2, w/2)
        low3      BasicBlocks back to C_d       (N, C_d, h/2, w/2)
        output = up1 + nearest_upsample_x2(low3)  (N, C_d, h, w)

    Args:
        depth (int): Number of down-sampling levels (5 in HG-52).
        stage_channels (Sequence[int]): Channels of this and the deeper
            levels; needs ``depth + 1`` entries.
        stage_blocks (Sequence[int]): BasicBlocks per residual layer of this
            and the deeper levels; needs ``depth + 1`` entries.
        norm_cfg (dict): Normalisation layer config, used by every layer.
    """

    def __init__(self, depth: int, stage_channels: Sequence[int],
                 stage_blocks: Sequence[int], norm_cfg: ConfigType):
        super().__init__(1, stage_channels, stage_blocks, norm_cfg=norm_cfg)
        self.depth = depth
        if depth > 1:
            # mmpose's own recursion here would drop norm_cfg
            self.low2 = CornerHourglassModule(depth - 1, stage_channels[1:],
                                              stage_blocks[1:], norm_cfg)


@MODELS.register_module()
class CornerHourglassNet(BaseBackbone):
    """Stacked CornerNet-style hourglasses; HG-52 is ``num_stacks=1``.

    Architecture (defaults; H, W = input size in pixels, multiples of 128)::

        stem: conv7x7/2 (3->128) + strided BasicBlock (128->256)
                                                  -> (N, 256, H/4, W/4)
        per stack s:
            hourglass: 5 levels of strided BasicBlocks, channels
                       256,256,384,384,384,512, blocks 2,2,2,2,2,4,
                       nearest up-sampling         (N, 256, H/4, W/4)
            out_convs[s]: conv3x3 + norm + ReLU   (N, feat_channel, H/4, W/4)
            between stacks s and s+1 (CornerNet):
                x = inters[s](ReLU(conv1x1s[s](x) + remap_convs[s](out_s)))

    There is no inter-stack block when ``num_stacks=1``, so every parameter
    receives a gradient (plain DDP works with
    ``find_unused_parameters=False``).
    The HG-52 backbone has 93,662,848 parameters here; mmpose's has
    94,843,520, of which the 1,180,672 of the unused ``inters.0`` are left
    out. Loading a state dict that holds them (any mmpose HG-52 checkpoint)
    drops them first and says so once in the log
    (:meth:`_drop_unused_inter_stack_block`).

    Args:
        downsample_times (int): Down-sampling levels per hourglass.
            Defaults to 5.
        num_stacks (int): Number of hourglasses (1: HG-52, 2: HG-104).
            Defaults to 1.
        stage_channels (Sequence[int]): Channels of the hourglass levels,
            ``downsample_times + 1`` entries or more. The first one is also
            the stem's output width.
        stage_blocks (Sequence[int]): BasicBlocks per residual layer of each
            level, as many entries as ``stage_channels``.
        feat_channel (int): Channels of each stack's output feature map.
            Defaults to 256.
        in_channels (int): Image channels. Defaults to 3.
        norm_cfg (dict): Normalisation layer config, used by every layer.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        init_cfg (dict | list[dict], optional): mmpose's defaults: conv
            weights N(0, 0.001), norm weights 1.

    Raises:
        ValueError: On inconsistent arguments at construction; in
            :meth:`forward`, on an input of the wrong channel count or a side
            that is not a multiple of ``4 * 2 ** downsample_times``.

    Reference: mmpose's ``HourglassNet``; Newell et al., Stacked Hourglass
    Networks, ECCV 2016; Law & Deng, CornerNet, ECCV 2018.
    """

    def __init__(
        self,
        downsample_times: int = 5,
        num_stacks: int = 1,
        stage_channels: Sequence[int] = (256, 256, 384, 384, 384, 512),
        stage_blocks: Sequence[int] = (2, 2, 2, 2, 2, 4),
        feat_channel: int = 256,
        in_channels: int = 3,
        norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
        init_cfg: OptMultiConfig = [
            dict(type='Normal', std=0.001, layer=['Conv2d']),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ],
    ):
        norm_cfg = copy.deepcopy(norm_cfg)
        super().__init__(init_cfg=init_cfg)
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        if len(stage_channels) != len(stage_blocks):
            raise ValueError(
                f'stage_channels ({len(stage_channels)} entries) and '
                f'stage_blocks ({len(stage_blocks)}) must have equal length')
        if len(stage_channels) <= downsample_times:
            raise ValueError(
                f'{downsample_times} down-sampling levels need at least '
                f'{downsample_times + 1} stage_channels, got '
                f'{len(stage_channels)}')

        self.num_stacks = num_stacks
        self.in_channels = in_channels
        self.downsample_factor = 4 * 2**downsample_times
        cur_channel = stage_channels[0]

        self.stem = nn.Sequential(
            ConvModule(
                in_channels, 128, 7, padding=3, stride=2, norm_cfg=norm_cfg),
            ResLayer(
                BasicBlock, 1, 128, cur_channel, stride=2, norm_cfg=norm_cfg))

        self.hourglass_modules = nn.ModuleList([
            CornerHourglassModule(downsample_times, stage_channels,
                                  stage_blocks, norm_cfg)
            for _ in range(num_stacks)
        ])

        self.out_convs = nn.ModuleList([
            ConvModule(
                cur_channel, feat_channel, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(num_stacks)
        ])

        # inter-stack merge; nothing is built for a single stack
        self.inters = ResLayer(
            BasicBlock,
            num_stacks - 1,
            cur_channel,
            cur_channel,
            norm_cfg=norm_cfg) if num_stacks > 1 else None
        self.conv1x1s = nn.ModuleList([
            ConvModule(
                cur_channel, cur_channel, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_stacks - 1)
        ])
        self.remap_convs = nn.ModuleList([
            ConvModule(
                feat_channel, cur_channel, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_stacks - 1)
        ])
        self._register_load_state_dict_pre_hook(
            self._drop_unused_inter_stack_block)

    def _drop_unused_inter_stack_block(self, state_dict: dict, prefix: str,
                                       *args) -> None:
        """Remove mmpose's unused ``inters.*`` tensors before loading.

        A ``torch.nn.Module`` state-dict pre-hook: torch (and mmengine's
        ``load_checkpoint``) call it with the whole state dict being loaded
        and this module's key prefix (``'backbone.'`` inside a pose
        estimator). With one stack, mmpose's ``HourglassNet`` has an
        inter-stack block ``inters.0`` (12 tensors, 1,180,672 parameters)
        that no forward pass uses and that this backbone does not build;
        its tensors are deleted from ``state_dict`` (in place), so they are
        neither loaded nor reported as unexpected keys. With more stacks
        every ``inters`` block is used and built: nothing is dropped.

        Args:
            state_dict (dict): Key -> tensor, edited in place.
            prefix (str): This module's key prefix in ``state_dict``.
            *args: The rest of torch's pre-hook arguments (unused).
        """
        if self.inters is not None:
            return
        unused = [k for k in state_dict if k.startswith(prefix + 'inters.')]
        if not unused:
            return
        n_params = sum(state_dict[k].numel() for k in unused
                       if not k.endswith(('running_mean', 'running_var',
                                          'num_batches_tracked')))
        for key in unused:
            del state_dict[key]
        print_log(
            f'{type(self).__name__}: dropped {len(unused)} tensors of '
            f'{prefix}inters.* ({n_params:,} parameters) from the loaded '
            'state dict: the inter-stack block mmpose builds but never '
            'uses with one stack (not built here)',
            logger='current')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the stem and every stack.

        Args:
            x (Tensor): Images, shape (N, in_channels, H, W); H and W
                multiples of ``4 * 2 ** downsample_times`` (128 by default).

        Returns:
            tuple[Tensor]: One feature map per stack, each
            (N, feat_channel, H/4, W/4).

        Raises:
            ValueError: See :func:`check_image_batch`.
        """
        check_image_batch(x, self.in_channels, self.downsample_factor,
                          type(self).__name__)
        inter_feat = self.stem(x)  # (N, C, H/4, W/4)
        out_feats: List[Tensor] = []
        for i in range(self.num_stacks):
            hourglass_feat = self.hourglass_modules[i](inter_feat)
            out_feat = self.out_convs[i](hourglass_feat)
            out_feats.append(out_feat)  # (N, feat_channel, H/4, W/4)
            if i < self.num_stacks - 1:
                inter_feat = (
                    self.conv1x1s[i](inter_feat) +
                    self.remap_convs[i](out_feat))
                inter_feat = self.inters[i](torch.relu(inter_feat))
        return tuple(out_feats)
