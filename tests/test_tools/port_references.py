"""The two PyTorch ports of Newell's hourglass, as key lists and functional
forwards, written here from reading their code (none of it copied); no
code of this plugin is used, so the converted models are checked against
the ports, not against themselves.

princeton-vl/pytorch_stacked_hourglass (``models/posenet.py``,
``models/layers.py``):

- ``Conv(in, out, k, stride, bn, relu)``: ``conv`` (k x k, bias, padding
  (k-1)//2) -> ``bn`` -> ReLU (post-activation).
- ``Residual(in, out)``: ``bn1``-ReLU-``conv1`` (1x1, out/2),
  ``bn2``-ReLU-``conv2`` (3x3), ``bn3``-ReLU-``conv3`` (1x1 -> out), plus
  ``skip_layer`` (Conv 1x1) applied only when in != out, identity
  otherwise; ``skip_layer`` is built in both cases.
- ``Hourglass(n, f)``: ``up1`` = Residual(x); ``low1`` = Residual(maxpool
  2x2(x)); ``low2`` = Hourglass(n-1) or, at n = 1, Residual; ``low3`` =
  Residual; output ``up1 + nearest_upsample_x2(low3)``.
- ``PoseNet``: ``pre`` = Conv(3, 64, 7, 2, bn, relu), Residual(64, 128),
  Pool, Residual(128, 128), Residual(128, 256); per stack ``hgs.<s>.0`` =
  Hourglass(4, 256), ``features.<s>`` = Residual(256, 256) + Conv(256, 256,
  1, bn, relu), ``outs.<s>`` = Conv(256, 16, 1, no bn, no relu); between
  stacks ``x = x + merge_preds[s](preds) + merge_features[s](feature)``
  (``Merge.conv`` = Conv 1x1, no bn, no relu). Input: (N, H, W, 3), permuted.

bearpaw/pytorch-pose (``pose/models/hourglass.py``, ``hg(num_stacks,
num_blocks=1, num_classes=16)``), followed statement by statement:

- ``Bottleneck(inplanes, planes, stride=1, downsample=None)`` (expansion
  2): ``bn1`` (inplanes) - ReLU - ``conv1`` (1x1, inplanes -> planes),
  ``bn2`` - ReLU - ``conv2`` (3x3, padding 1), ``bn3`` - ReLU - ``conv3``
  (1x1, planes -> 2 planes); every conv with bias; the residual is
  ``downsample(x)`` where one was passed, else ``x``.
- ``HourglassNet.__init__``: ``self.inplanes = 64``, ``num_feats = 128``;
  ``conv1`` (3 -> 64, 7x7, stride 2, padding 3, bias), ``bn1``;
  ``layer1 = _make_residual(block, self.inplanes, 1)``, then
  ``layer2 = _make_residual(block, self.inplanes, 1)``, then
  ``layer3 = _make_residual(block, num_feats, 1)``.
  ``_make_residual(block, planes, blocks)`` builds ``downsample`` =
  Sequential(Conv2d(self.inplanes, 2 planes, 1x1, bias)) when
  ``self.inplanes != 2 planes``, the first block ``block(self.inplanes,
  planes, 1, downsample)``, then sets ``self.inplanes = 2 planes``. So
  ``layer1`` is Bottleneck(64, 64) + downsample 64 -> 128 and leaves
  inplanes = 128; ``layer2`` is called with planes = 128: Bottleneck(128,
  128) + downsample 128 -> 256, inplanes = 256; ``layer3`` (planes 128):
  Bottleneck(256, 128), no downsample. Stem widths 64 -> 128 -> 256 -> 256.
- Per stack: ``hg`` = ``Hourglass(block, num_blocks, 128, 4)``, whose
  ``hg[i]`` (i = 0..3) holds three ``Sequential(Bottleneck(256, 128))``
  plus a fourth for i = 0; ``res`` = ``_make_residual(block, 128,
  num_blocks)`` (inplanes is 256 by then: no downsample); ``fc`` =
  Sequential(Conv2d(256, 256, 1x1, bias), BatchNorm2d(256), ReLU);
  ``score`` = Conv2d(256, num_classes, 1x1, bias); for all but the last
  stack ``fc_`` = Conv2d(256, 256, 1x1, bias) and ``score_`` =
  Conv2d(num_classes, 256, 1x1, bias).
- ``Hourglass._hour_glass_forward(n, x)``: up1 = hg[n-1][0](x); low1 =
  hg[n-1][1](max_pool2d(x, 2, stride=2)); low2 = forward(n-1, low1) if
  n > 1 else hg[n-1][3](low1); low3 = hg[n-1][2](low2); out = up1 +
  nearest_upsample_x2(low3); called with n = 4.
- ``HourglassNet.forward``: conv1 - bn1 - ReLU - layer1 - maxpool 2x2 -
  layer2 - layer3; per stack y = fc(res(hg(x))), score = score(y), kept;
  between stacks x = x + fc_(y) + score_(score).
"""
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

StateDict = Dict[str, Tensor]
Shapes = List[Tuple[str, Tuple[int, ...]]]


def _bn(prefix: str, channels: int) -> Shapes:
    return [(prefix + 'weight', (channels, )), (prefix + 'bias', (channels, )),
            (prefix + 'running_mean', (channels, )),
            (prefix + 'running_var', (channels, )),
            (prefix + 'num_batches_tracked', ())]


def _conv(prefix: str, cin: int, cout: int, k: int) -> Shapes:
    return [(prefix + 'weight', (cout, cin, k, k)),
            (prefix + 'bias', (cout, ))]


# ---------------------------------------------------------------- princeton
def princeton_residual_keys(prefix: str, cin: int, cout: int) -> Shapes:
    """Keys of princeton-vl's ``Residual(cin, cout)``."""
    mid = cout // 2
    return (_bn(prefix + 'bn1.', cin) +
            _conv(prefix + 'conv1.conv.', cin, mid, 1) +
            _bn(prefix + 'bn2.', mid) +
            _conv(prefix + 'conv2.conv.', mid, mid, 3) +
            _bn(prefix + 'bn3.', mid) +
            _conv(prefix + 'conv3.conv.', mid, cout, 1) +
            _conv(prefix + 'skip_layer.conv.', cin, cout, 1))


def princeton_hourglass_keys(prefix: str, n: int, f: int) -> Shapes:
    keys = princeton_residual_keys(prefix + 'up1.', f, f)
    keys += princeton_residual_keys(prefix + 'low1.', f, f)
    keys += (
        princeton_hourglass_keys(prefix + 'low2.', n - 1, f)
        if n > 1 else princeton_residual_keys(prefix + 'low2.', f, f))
    return keys + princeton_residual_keys(prefix + 'low3.', f, f)


def princeton_keys(nstack: int,
                   inp_dim: int = 256,
                   oup_dim: int = 16) -> Shapes:
    """Every state-dict key of ``PoseNet(nstack, inp_dim, oup_dim)`` (as
    saved: ``model.module.`` prefix of their Trainer(DataParallel))."""
    keys = _conv('pre.0.conv.', 3, 64, 7) + _bn('pre.0.bn.', 64)
    keys += princeton_residual_keys('pre.1.', 64, 128)
    keys += princeton_residual_keys('pre.3.', 128, 128)
    keys += princeton_residual_keys('pre.4.', 128, inp_dim)
    for s in range(nstack):
        keys += princeton_hourglass_keys(f'hgs.{s}.0.', 4, inp_dim)
        keys += princeton_residual_keys(f'features.{s}.0.', inp_dim, inp_dim)
        keys += _conv(f'features.{s}.1.conv.', inp_dim, inp_dim, 1)
        keys += _bn(f'features.{s}.1.bn.', inp_dim)
        keys += _conv(f'outs.{s}.conv.', inp_dim, oup_dim, 1)
    for s in range(nstack - 1):
        keys += _conv(f'merge_features.{s}.conv.conv.', inp_dim, inp_dim, 1)
        keys += _conv(f'merge_preds.{s}.conv.conv.', oup_dim, inp_dim, 1)
    return [('model.module.' + k, shape) for k, shape in keys]


# ------------------------------------------------------------------ bearpaw
EXPANSION = 2  # pytorch-pose Bottleneck.expansion


def bearpaw_bottleneck_keys(prefix: str, inplanes: int, planes: int,
                            downsample: bool) -> Shapes:
    """Keys of pytorch-pose's ``Bottleneck(inplanes, planes)`` (+ its
    ``downsample`` Sequential(Conv2d 1x1) where one is passed)."""
    keys = (
        _bn(prefix + 'bn1.', inplanes) +
        _conv(prefix + 'conv1.', inplanes, planes, 1) +
        _bn(prefix + 'bn2.', planes) +
        _conv(prefix + 'conv2.', planes, planes, 3) +
        _bn(prefix + 'bn3.', planes) +
        _conv(prefix + 'conv3.', planes, EXPANSION * planes, 1))
    if downsample:
        keys += _conv(prefix + 'downsample.0.', inplanes, EXPANSION * planes,
                      1)
    return keys


class _BearpawInplanes:
    """``HourglassNet._make_residual`` with its mutable ``self.inplanes``
    (64 when ``HourglassNet.__init__`` starts)."""

    def __init__(self) -> None:
        self.inplanes = 64

    def make_residual(self, prefix: str, planes: int, blocks: int) -> Shapes:
        """Keys of ``_make_residual(block, planes, blocks)``; updates
        ``inplanes`` as theirs does."""
        downsample = self.inplanes != planes * EXPANSION
        keys = bearpaw_bottleneck_keys(prefix + '0.', self.inplanes, planes,
                                       downsample)
        self.inplanes = planes * EXPANSION
        for i in range(1, blocks):
            keys += bearpaw_bottleneck_keys(f'{prefix}{i}.', self.inplanes,
                                            planes, False)
        return keys


def bearpaw_keys(num_stacks: int, num_classes: int = 16) -> Shapes:
    """Every state-dict key of ``HourglassNet(Bottleneck, num_stacks,
    num_blocks=1, num_classes)``, in its registration order (as saved:
    ``module.`` of DataParallel)."""
    net = _BearpawInplanes()
    num_feats, num_blocks = 128, 1
    stem = _conv('conv1.', 3, net.inplanes, 7) + _bn('bn1.', net.inplanes)
    stem += net.make_residual('layer1.', net.inplanes, 1)  # planes 64
    stem += net.make_residual('layer2.', net.inplanes, 1)  # planes 128 (!)
    stem += net.make_residual('layer3.', num_feats, 1)
    ch = num_feats * EXPANSION
    hg, res, fc, score, fc_, score_ = [], [], [], [], [], []
    for i in range(num_stacks):
        for level in range(4):  # Hourglass(block, num_blocks, 128, 4)
            for branch in range(4 if level == 0 else 3):
                hg += bearpaw_bottleneck_keys(f'hg.{i}.hg.{level}.{branch}.0.',
                                              num_feats * EXPANSION, num_feats,
                                              False)
        res += net.make_residual(f'res.{i}.', num_feats, num_blocks)
        fc += _conv(f'fc.{i}.0.', ch, ch, 1) + _bn(f'fc.{i}.1.', ch)
        score += _conv(f'score.{i}.', ch, num_classes, 1)
        if i < num_stacks - 1:
            fc_ += _conv(f'fc_.{i}.', ch, ch, 1)
            score_ += _conv(f'score_.{i}.', num_classes, ch, 1)
    keys = stem + hg + res + fc + score + fc_ + score_
    return [('module.' + k, shape) for k, shape in keys]


def random_state_dict(keys: Shapes, seed: int = 0) -> StateDict:
    """Random values for ``keys``: conv weights N(0, 0.25/fan_in) (heatmaps
    of order 1 through 8 stacks; with 1/fan_in they reach 1e5, where float
    rounding alone exceeds 1e-5), small biases, BN affine and running
    statistics away from identity."""
    gen = torch.Generator().manual_seed(seed)
    state_dict = {}
    for key, shape in keys:
        if key.endswith('num_batches_tracked'):
            value = torch.tensor(100)
        elif key.endswith('running_var'):
            value = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            value = torch.randn(shape, generator=gen) * 0.5 / fan_in**0.5
        elif key.endswith('.weight'):  # BN scale
            value = torch.rand(shape, generator=gen) * 0.5 + 0.5
        else:  # biases, BN shift, running mean
            value = (torch.rand(shape, generator=gen) - 0.5) * 0.2
        state_dict[key] = value
    return state_dict


# --------------------------------------------------------- functional forwards
def _functions(sd: StateDict) -> Tuple[Callable, Callable]:

    def conv(x: Tensor, prefix: str, stride: int = 1) -> Tensor:
        w = sd[prefix + 'weight']
        return F.conv2d(x, w, sd[prefix + 'bias'], stride, w.shape[-1] // 2)

    def bn(x: Tensor, prefix: str) -> Tensor:
        return F.batch_norm(x, sd[prefix + 'running_mean'],
                            sd[prefix + 'running_var'], sd[prefix + 'weight'],
                            sd[prefix + 'bias'], False, 0., 1e-5)

    return conv, bn


def princeton_forward(sd: StateDict, imgs: Tensor, nstack: int) -> Tensor:
    """princeton-vl ``PoseNet.forward`` in eval mode.

    Args:
        sd: Its state dict (``model.module.`` prefix removed).
        imgs: (N, H, W, 3) images, RGB / 255 (their input layout).
        nstack: Number of stacks.

    Returns:
        Tensor: (N, nstack, 16, H/4, W/4), ``torch.stack`` of every stack.
    """
    conv, bn = _functions(sd)

    def residual(x: Tensor, p: str) -> Tensor:
        out_dim = sd[p + 'conv3.conv.weight'].shape[0]
        skip = conv(x, p + 'skip_layer.conv.') if x.shape[1] != out_dim \
            else x
        out = conv(F.relu(bn(x, p + 'bn1.')), p + 'conv1.conv.')
        out = conv(F.relu(bn(out, p + 'bn2.')), p + 'conv2.conv.')
        out = conv(F.relu(bn(out, p + 'bn3.')), p + 'conv3.conv.')
        return out + skip

    def hourglass(x: Tensor, p: str, n: int) -> Tensor:
        up1 = residual(x, p + 'up1.')
        low1 = residual(F.max_pool2d(x, 2, 2), p + 'low1.')
        low2 = (
            hourglass(low1, p + 'low2.', n -
                      1) if n > 1 else residual(low1, p + 'low2.'))
        low3 = residual(low2, p + 'low3.')
        return up1 + F.interpolate(low3, scale_factor=2, mode='nearest')

    x = imgs.permute(0, 3, 1, 2)
    x = F.relu(bn(conv(x, 'pre.0.conv.', stride=2), 'pre.0.bn.'))
    x = residual(x, 'pre.1.')
    x = F.max_pool2d(x, 2, 2)
    x = residual(residual(x, 'pre.3.'), 'pre.4.')
    preds = []
    for i in range(nstack):
        hg = hourglass(x, f'hgs.{i}.0.', 4)
        feature = residual(hg, f'features.{i}.0.')
        feature = F.relu(
            bn(conv(feature, f'features.{i}.1.conv.'), f'features.{i}.1.bn.'))
        preds.append(conv(feature, f'outs.{i}.conv.'))
        if i < nstack - 1:
            x = (
                x + conv(preds[i], f'merge_preds.{i}.conv.conv.') +
                conv(feature, f'merge_features.{i}.conv.conv.'))
    return torch.stack(preds, 1)


def bearpaw_forward(sd: StateDict, x: Tensor, num_stacks: int) -> List[Tensor]:
    """pytorch-pose ``HourglassNet.forward`` in eval mode (1 block).

    Args:
        sd: Its state dict (``module.`` prefix removed).
        x: (N, 3, H, W) images, RGB / 255 minus the mean.
        num_stacks: Number of stacks.

    Returns:
        list[Tensor]: ``num_stacks`` heatmaps, each (N, 16, H/4, W/4).
    """
    conv, bn = _functions(sd)

    def block(x: Tensor, p: str) -> Tensor:
        skip = conv(x, p + 'downsample.0.') \
            if p + 'downsample.0.weight' in sd else x
        out = conv(F.relu(bn(x, p + 'bn1.')), p + 'conv1.')
        out = conv(F.relu(bn(out, p + 'bn2.')), p + 'conv2.')
        out = conv(F.relu(bn(out, p + 'bn3.')), p + 'conv3.')
        return out + skip

    def hourglass(x: Tensor, p: str, n: int) -> Tensor:
        up1 = block(x, f'{p}hg.{n - 1}.0.0.')
        low1 = block(F.max_pool2d(x, 2, stride=2), f'{p}hg.{n - 1}.1.0.')
        low2 = (
            hourglass(low1, p, n -
                      1) if n > 1 else block(low1, f'{p}hg.{n - 1}.3.0.'))
        low3 = block(low2, f'{p}hg.{n - 1}.2.0.')
        return up1 + F.interpolate(low3, scale_factor=2, mode='nearest')

    x = F.relu(bn(conv(x, 'conv1.', stride=2), 'bn1.'))
    x = block(x, 'layer1.0.')
    x = F.max_pool2d(x, 2, stride=2)
    x = block(x, 'layer2.0.')
    x = block(x, 'layer3.0.')
    out = []
    for i in range(num_stacks):
        y = block(hourglass(x, f'hg.{i}.', 4), f'res.{i}.0.')
        y = F.relu(bn(conv(y, f'fc.{i}.0.'), f'fc.{i}.1.'))
        score = conv(y, f'score.{i}.')
        out.append(score)
        if i < num_stacks - 1:
            x = x + conv(y, f'fc_.{i}.') + conv(score, f'score_.{i}.')
    return out
