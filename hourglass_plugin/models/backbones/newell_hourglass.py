"""The stacked hourglass network of Newell, Yang & Deng, ECCV 2016.

Paper: "Stacked Hourglass Networks for Human Pose Estimation",
https://arxiv.org/abs/1603.06937 (Sec. 3 "Network Architecture", Fig. 3
and 4); reference implementation: github.com/princeton-vl/pose-hg-train,
``src/models/hg.lua`` and ``src/models/layers/Residual.lua``.

Where the per-stack heatmap convs live: stack s+1 takes the predictions of
stack s as input (Fig. 4 right: the heatmaps are remapped by a 1x1
convolution and added to the features entering the next hourglass), so the
1x1 prediction convs are part of this backbone, which returns the per-stack
predicted heatmaps. The head
(``StackedHeatmapHead(final_layer=None)``) supervises every one of them and
decodes the last; this is mmpose's layout for Convolutional Pose Machines
(backbone ``CPM`` + ``CPMHead(final_layer=None)``), the other network whose
stages consume earlier predictions.

Both public PyTorch ports with trained MPII weights build this network
(same residual, hourglass, per-stack feature, prediction and merge layout;
read from princeton-vl/pytorch_stacked_hourglass ``models/posenet.py`` +
``models/layers.py`` and bearpaw/pytorch-pose ``pose/models/hourglass.py``),
with a bias in every convolution (``conv_bias=True``). princeton-vl's stem is
Newell's; bearpaw's stem residuals are 64 -> 128 -> 256 -> 256 instead of
64 -> 128 -> 128 -> 256 (``stem_widths=(128, 256, 256)``). Their weights load
exactly after ``tools/convert_checkpoint.py``.
"""
import copy
import warnings
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from torch import Tensor, nn

from .input_checks import check_image_batch


@contextmanager
def _intended_conv_bias(conv_bias: bool) -> Iterator[None]:
    """Silence mmcv's "Unnecessary conv bias" warning when biases are asked
    for (``conv_bias=True``): they hold the ports' trained weights."""
    with warnings.catch_warnings():
        if conv_bias:
            warnings.filterwarnings('ignore', message='Unnecessary conv bias')
        yield


class PreActBottleneck(BaseModule):
    """Newell's residual module (Fig. 4 left; ``Residual.lua``).

    Pre-activation bottleneck: ``(norm-ReLU-conv1x1 C_in->C_out/2,
    norm-ReLU-conv3x3 C_out/2->C_out/2, norm-ReLU-conv1x1 C_out/2->C_out)``
    plus an identity skip, or a 1x1 conv skip (with bias) when
    ``C_in != C_out``. Shape: (N, C_in, h, w) -> (N, C_out, h, w).

    By default the branch convs have no bias: in training every value they
    shift reaches a norm layer before any non-linearity, where the batch
    statistics cancel it. A trained network's biases do matter at test time
    (the running statistics were gathered with them), so
    ``conv_bias=True`` builds them to load the PyTorch ports' weights
    (princeton-vl's ``Residual``, bearpaw's ``Bottleneck``: same layers, same
    order). princeton-vl's ``Residual`` also builds a 1x1 skip conv when
    ``C_in == C_out`` and never uses it; it is not built here.

    Args:
        in_channels (int): C_in.
        out_channels (int): C_out (even).
        norm_cfg (dict): Normalisation layer config.
        conv_bias (bool): Give the three branch convs a bias.
            Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: ConfigType,
                 conv_bias: bool = False):
        super().__init__()
        mid_channels = out_channels // 2
        pre_act = dict(
            norm_cfg=norm_cfg,
            order=('norm', 'act', 'conv'),
            bias=conv_bias or 'auto')
        with _intended_conv_bias(conv_bias):
            self.conv1 = ConvModule(in_channels, mid_channels, 1, **pre_act)
            self.conv2 = ConvModule(
                mid_channels, mid_channels, 3, padding=1, **pre_act)
            self.conv3 = ConvModule(mid_channels, out_channels, 1, **pre_act)
        self.skip = (
            nn.Identity() if in_channels == out_channels else nn.Conv2d(
                in_channels, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, h, w) -> (N, C_out, h, w)."""
        return self.conv3(self.conv2(self.conv1(x))) + self.skip(x)


class NewellHourglassModule(BaseModule):
    """One hourglass of ``depth`` levels (Fig. 3; ``hg.lua``).

    With one residual module per position, at every level::

        up1  = Residual(x)                            (N, C, h, w)
        low1 = Residual(maxpool2x2(x))                (N, C, h/2, w/2)
        low2 = next level(low1), or Residual at the bottom
        low3 = Residual(low2)                         (N, C, h/2, w/2)
        out  = up1 + nearest_upsample_x2(low3)        (N, C, h, w)

    Four levels take a 64x64 map down to 4x4.

    Args:
        depth (int): Number of down-sampling levels.
        channels (int): C, constant through the hourglass (256).
        norm_cfg (dict): Normalisation layer config.
        conv_bias (bool): Biases in the residuals' branch convs (see
            :class:`PreActBottleneck`). Defaults to False.
    """

    def __init__(self,
                 depth: int,
                 channels: int,
                 norm_cfg: ConfigType,
                 conv_bias: bool = False):
        super().__init__()
        args = (channels, channels, norm_cfg, conv_bias)
        self.up1 = PreActBottleneck(*args)
        self.pool = nn.MaxPool2d(2, 2)
        self.low1 = PreActBottleneck(*args)
        self.low2 = (
            NewellHourglassModule(depth - 1, channels, norm_cfg, conv_bias)
            if depth > 1 else PreActBottleneck(*args))
        self.low3 = PreActBottleneck(*args)
        self.up2 = nn.Upsample(scale_factor=2, mode='nearest')

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) -> (N, C, h, w); h, w divisible by 2^depth."""
        low = self.low3(self.low2(self.low1(self.pool(x))))
        return self.up1(x) + self.up2(low)


@MODELS.register_module()
class NewellHourglassNet(BaseBackbone):
    """Newell et al.'s stacked hourglass network; returns per-stack heatmaps.

    Architecture (H, W = input size in pixels, multiples of
    ``4 * 2 ** depth`` = 64; F = ``feat_channels``, K = ``num_keypoints``)::

        stem (Sec. 3): conv7x7/2 (3->64) + norm + ReLU,
            Residual 64->w0                       -> (N, w0, H/2, W/2)
            maxpool 2x2, Residual w0->w1, Residual w1->F
                                                  -> x: (N, F, H/4, W/4)
            (w0, w1, F) = ``stem_widths``; Newell: (128, 128, F)
        per stack s (Fig. 4 right):
            hourglass(x), Residual, conv1x1 + norm + ReLU
                                                  -> feat: (N, F, H/4, W/4)
            predictors[s](feat): conv1x1 F->K
                                                  -> hm_s: (N, K, H/4, W/4)
            if s is not the last stack (Fig. 4 right):
                x = x + feature_remaps[s](feat) + prediction_remaps[s](hm_s)

    Every Residual C_in->C_out has C_out/2 middle channels and a 1x1 skip
    conv where C_in != C_out (:class:`PreActBottleneck`).

    Parameters with F=256 and K=16: 8 stacks 25,373,632 (1 stack
    3,417,936); with ``conv_bias=True``, princeton-vl's layout, 8 stacks
    25,434,112 (2 stacks 6,570,400); with ``conv_bias=True,
    stem_widths=(128, 256, 256)``, bearpaw's layout, 8 stacks 25,594,624
    (2 stacks 6,730,912).

    Args:
        num_keypoints (int): K, heatmap channels. Defaults to 16 (MPII).
        num_stacks (int): Number of hourglasses (paper: 2, 4, 8).
            Defaults to 8.
        feat_channels (int): F. Defaults to 256.
        depth (int): Down-sampling levels per hourglass. Defaults to 4.
        in_channels (int): Image channels. Defaults to 3.
        norm_cfg (dict): Normalisation layer config.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        conv_bias (bool): Give the convs followed or preceded by a norm
            layer (stem conv, residual branch convs, per-stack feature
            conv) a bias, as both PyTorch ports do, to hold their trained
            weights exactly. Defaults to False (redundant in training).
        stem_widths (Sequence[int], optional): Output channels of the
            stem's three residuals, (w0, w1, w2), w2 = F. ``None`` (default)
            is Newell's ``(128, 128, F)`` (``hg.lua``, princeton-vl's
            ``PoseNet.pre``); ``(128, 256, 256)`` is bearpaw/pytorch-pose's
            ``layer1..3`` (``HourglassNet._make_residual`` is called for
            ``layer2`` with the 128 that ``layer1`` left in
            ``self.inplanes``: Bottleneck(128, 128) = 128 -> 256 with a 1x1
            projection, then Bottleneck(256, 128) = 256 -> 256).
        init_cfg (dict | list[dict], optional): Initialisation config;
            ``None`` keeps PyTorch's / mmcv's defaults, as the reference.

    Raises:
        ValueError: On ``num_stacks < 1``, ``depth < 1``, or
            ``stem_widths`` not 3 positive even widths ending with F; in
            :meth:`forward`, on an input of the wrong channel count or a side
            that is not a multiple of ``4 * 2 ** depth``.
    """

    def __init__(self,
                 num_keypoints: int = 16,
                 num_stacks: int = 8,
                 feat_channels: int = 256,
                 depth: int = 4,
                 in_channels: int = 3,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 conv_bias: bool = False,
                 stem_widths: Optional[Sequence[int]] = None,
                 init_cfg: OptMultiConfig = None):
        norm_cfg = copy.deepcopy(norm_cfg)
        super().__init__(init_cfg=init_cfg)
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        if depth < 1:
            raise ValueError(f'depth must be >= 1, got {depth}')
        widths = ((128, 128, feat_channels)
                  if stem_widths is None else tuple(stem_widths))
        if (len(widths) != 3 or widths[2] != feat_channels
                or any(w < 2 or w % 2 for w in widths)):
            raise ValueError(
                'stem_widths must be 3 positive even widths ending with '
                f'feat_channels={feat_channels}; got {stem_widths!r}')
        self.stem_widths = widths
        self.num_stacks = num_stacks
        self.in_channels = in_channels
        self.downsample_factor = 4 * 2**depth

        bias = conv_bias or 'auto'  # 'auto': none before/after a norm
        with _intended_conv_bias(conv_bias):
            stem_conv = ConvModule(
                in_channels,
                64,
                7,
                stride=2,
                padding=3,
                norm_cfg=norm_cfg,
                bias=bias)
            feature_convs = [
                ConvModule(
                    feat_channels,
                    feat_channels,
                    1,
                    norm_cfg=norm_cfg,
                    bias=bias) for _ in range(num_stacks)
            ]
        self.stem = nn.Sequential(
            stem_conv,  # (N, 64, H/2, W/2)
            PreActBottleneck(64, widths[0], norm_cfg, conv_bias),
            nn.MaxPool2d(2, 2),  # (N, w0, H/4, W/4)
            PreActBottleneck(widths[0], widths[1], norm_cfg, conv_bias),
            PreActBottleneck(widths[1], widths[2], norm_cfg,
                             conv_bias))  # (N, F, H/4, W/4)

        self.hourglasses = nn.ModuleList([
            NewellHourglassModule(depth, feat_channels, norm_cfg, conv_bias)
            for _ in range(num_stacks)
        ])
        self.out_features = nn.ModuleList([
            nn.Sequential(
                PreActBottleneck(feat_channels, feat_channels, norm_cfg,
                                 conv_bias), feature_convs[s])
            for s in range(num_stacks)
        ])
        self.predictors = nn.ModuleList([
            nn.Conv2d(feat_channels, num_keypoints, 1)
            for _ in range(num_stacks)
        ])
        self.feature_remaps = nn.ModuleList([
            nn.Conv2d(feat_channels, feat_channels, 1)
            for _ in range(num_stacks - 1)
        ])
        self.prediction_remaps = nn.ModuleList([
            nn.Conv2d(num_keypoints, feat_channels, 1)
            for _ in range(num_stacks - 1)
        ])

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Predict one heatmap set per stack.

        Args:
            x (Tensor): Images, shape (N, in_channels, H, W); H and W
                multiples of ``4 * 2 ** depth`` (64 by default).

        Returns:
            tuple[Tensor]: ``num_stacks`` heatmap tensors, each
            (N, num_keypoints, H/4, W/4), in stack order.

        Raises:
            ValueError: See :func:`check_image_batch`.
        """
        check_image_batch(x, self.in_channels, self.downsample_factor,
                          type(self).__name__)
        x = self.stem(x)  # (N, F, H/4, W/4)
        heatmaps: List[Tensor] = []
        for s in range(self.num_stacks):
            feat = self.out_features[s](self.hourglasses[s](x))
            heatmaps.append(self.predictors[s](feat))  # (N, K, H/4, W/4)
            if s < self.num_stacks - 1:
                x = (
                    x + self.feature_remaps[s](feat) +
                    self.prediction_remaps[s](heatmaps[s]))
        return tuple(heatmaps)
