"""Conversion of public stacked-hourglass checkpoints to this plugin's
models (the library behind ``tools/convert_checkpoint.py``).

Formats (the code base a checkpoint was saved by):

``mmpose``
    mmpose's HG-52 / HG-104 (``HourglassNet`` + ``CPMHead``), e.g. the
    published ``hourglass52_mpii_256x256-ae358435_20200812.pth``. Keys are
    kept (mmpose 0.x ``keypoint_head.*`` is read as ``head.*``); the unused
    one-stack block ``backbone.inters.*`` is dropped.
``pytorch_stacked_hourglass``
    princeton-vl/pytorch_stacked_hourglass (``original_8hg`` /
    ``original_2hg/checkpoint.pt``): ``{'state_dict', 'optimizer',
    'epoch'}``, keys ``model.module.`` + ``PoseNet`` names (``pre.*``,
    ``hgs.<s>.0.*``, ``features.<s>.{0,1}.*``, ``outs.<s>.*``,
    ``merge_features.<s>.*``, ``merge_preds.<s>.*``).
``pytorch_pose``
    bearpaw/pytorch-pose (``hg_s8_b1`` / ``hg_s2_b1``): ``{'epoch', 'arch',
    'state_dict', 'best_acc', 'optimizer'}``, keys ``module.`` +
    ``HourglassNet`` names (``conv1``, ``bn1``, ``layer1..3``,
    ``hg.<s>.hg.<level>.<branch>.0.*``, ``res``, ``fc``, ``score``, ``fc_``,
    ``score_``); one residual block per position. Their stem residuals are
    64 -> 128 -> 256 -> 256 (``layer2`` is built from the 128 channels
    ``layer1`` leaves in ``self.inplanes``), so the target backbone needs
    ``stem_widths=(128, 256, 256)`` (``configs/converted/pytorch_pose_*``).

Every source key is mapped to a key of the target model or dropped with a
reason; every shape is checked; a key of another format, a missing key or a
wrong shape raises :class:`CheckpointMismatchError` naming the key.
"""
import os.path as osp
import pickle
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

FORMATS = ('mmpose', 'pytorch_stacked_hourglass', 'pytorch_pose')
SOURCE_URLS = {
    'mmpose': 'https://download.openmmlab.com/mmpose/top_down/hourglass/',
    'pytorch_stacked_hourglass':
    'https://github.com/princeton-vl/pytorch_stacked_hourglass',
    'pytorch_pose': 'https://github.com/bearpaw/pytorch-pose',
}
# buffers of mmengine's data preprocessor: rebuilt from the config
PREPROCESSOR_KEYS = ('data_preprocessor.mean', 'data_preprocessor.std')
# batch-norm statistics: state-dict entries that are not parameters
NORM_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')
# the prefix each port's training code saves its network under
SAVE_PREFIXES = {
    'mmpose': 'module.',  # only if saved from a DDP-wrapped model
    'pytorch_stacked_hourglass': 'model.module.',  # Trainer(DataParallel())
    'pytorch_pose': 'module.',  # DataParallel
}


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the target model (keys or shapes)."""


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
def load_checkpoint_file(path: str, trust_pickle: bool = False) -> Mapping:
    """``torch.load`` a checkpoint file safely.

    Args:
        path (str): Checkpoint file.
        trust_pickle (bool): Load with ``weights_only=False`` (runs arbitrary
            pickled code: only for files you trust). By default the file is
            read with ``weights_only=True``, which accepts tensors, plain
            metadata and the numpy / mmengine types of Runner checkpoints.

    Returns:
        Mapping: The loaded object (a dict for every supported format).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If torch's weights-only loader refuses the file (and
            ``trust_pickle`` is False) or it does not hold a dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        ckpt = torch.load(
            path, map_location='cpu', weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        refused = re.search(r'Unsupported global: GLOBAL (\S+)', str(err))
        raise ValueError(
            f'{path}: torch.load(weights_only=True) refuses it: it stores '
            'Python objects besides tensors and plain metadata ('
            f'{refused.group(1) if refused else str(err).splitlines()[0]}).'
            ' If you trust the file, re-run with --trust-pickle.') from err
    if not isinstance(ckpt, Mapping):
        raise ValueError(f'{path}: holds a {type(ckpt).__name__}, not a '
                         'checkpoint dict')
    return ckpt


def source_state_dict(ckpt: Mapping, path: str,
                      fmt: str) -> Dict[str, torch.Tensor]:
    """The state dict of a loaded checkpoint, save prefix removed.

    Args:
        ckpt (Mapping): What :func:`load_checkpoint_file` returned.
        path (str): Its file, for messages.
        fmt (str): One of :data:`FORMATS`; its training code's save prefix
            (``model.module.`` or ``module.``) is removed where present.

    Returns:
        dict[str, Tensor]: Source key -> tensor.

    Raises:
        ValueError: If there is no state dict of tensors in ``ckpt``.
    """
    state_dict = ckpt.get('state_dict', ckpt)
    if not isinstance(state_dict, Mapping) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f'{path}: no state dict of tensors found (expected '
                         'a dict with a "state_dict" entry)')
    prefix = SAVE_PREFIXES[fmt]
    return {
        (k[len(prefix):] if k.startswith(prefix) else k): v
        for k, v in state_dict.items()
    }


def guess_format(keys: Sequence[str]) -> Optional[str]:
    """The format whose key names ``keys`` has, or None.

    Args:
        keys (Sequence[str]): Source state-dict keys (save prefix removed
            or not).
    """
    names = {re.sub(r'^(model\.)?module\.', '', k).split('.')[0] for k in keys}
    if names & {'backbone', 'keypoint_head'}:
        return 'mmpose'
    if names & {'pre', 'hgs', 'merge_preds'}:
        return 'pytorch_stacked_hourglass'
    if names & {'hg', 'layer1', 'score_'}:
        return 'pytorch_pose'
    return None


def count_stacks(keys: Sequence[str], fmt: str) -> int:
    """Number of hourglass stacks a ``fmt`` state dict holds (0 if none)."""
    pattern = {
        'mmpose': r'^backbone\.hourglass_modules\.(\d+)\.',
        'pytorch_stacked_hourglass': r'^hgs\.(\d+)\.',
        'pytorch_pose': r'^hg\.(\d+)\.',
    }[fmt]
    stacks = [
        int(m.group(1)) for m in map(re.compile(pattern).match, keys) if m
    ]
    return max(stacks) + 1 if stacks else 0


# --------------------------------------------------------------------------
# key mapping: source key -> (our key, or None and why it is dropped)
# --------------------------------------------------------------------------
Mapped = Tuple[Optional[str], str]


class UnknownKey(Exception):
    """A source key that is not part of the format's network."""


# princeton-vl Residual / bearpaw Bottleneck sub-module -> PreActBottleneck
# (both: bn1-ReLU-conv1, bn2-ReLU-conv2, bn3-ReLU-conv3, + skip)
PRINCETON_RESIDUAL = {
    'bn1': 'conv1.bn',
    'conv1.conv': 'conv1.conv',
    'bn2': 'conv2.bn',
    'conv2.conv': 'conv2.conv',
    'bn3': 'conv3.bn',
    'conv3.conv': 'conv3.conv',
    'skip_layer.conv': 'skip',
}
BEARPAW_BOTTLENECK = {
    'bn1': 'conv1.bn',
    'conv1': 'conv1.conv',
    'bn2': 'conv2.bn',
    'conv2': 'conv2.conv',
    'bn3': 'conv3.bn',
    'conv3': 'conv3.conv',
    'downsample.0': 'skip',
}


def _residual(sub: str, table: Mapping[str, str]) -> str:
    """Map ``<module>.<tensor>`` inside one residual block."""
    module, _, tensor = sub.rpartition('.')
    if module not in table:
        raise UnknownKey
    return f'{table[module]}.{tensor}'


def map_mmpose_key(key: str, source: Mapping[str, torch.Tensor],
                   expected: Mapping[str, torch.Size]) -> Mapped:
    """mmpose ``HourglassNet`` + ``CPMHead`` key -> ours (same names).

    ``backbone.inters.*`` is dropped when the target has no inter-stack
    block (one stack); the data preprocessor's buffers are dropped (they
    are rebuilt from the config).
    """
    if key in PREPROCESSOR_KEYS:
        return None, 'data preprocessor buffer, rebuilt from the config'
    if key.startswith('keypoint_head.'):  # mmpose 0.x name
        key = 'head.' + key[len('keypoint_head.'):]
    if key.startswith('backbone.inters.') and not any(
            k.startswith('backbone.inters.') for k in expected):
        return None, ('the inter-stack block mmpose builds but never uses '
                      'with one stack')
    if not key.startswith(('backbone.', 'head.')):
        raise UnknownKey
    return key, ''


def map_princeton_key(key: str, source: Mapping[str, torch.Tensor],
                      expected: Mapping[str, torch.Size]) -> Mapped:
    """princeton-vl ``PoseNet`` key -> ours.

    ``pre.0`` (Conv 7x7 + BN) -> ``stem.0``; ``pre.{1,3,4}`` (Residual) ->
    ``stem.{1,3,4}``; ``hgs.<s>.0.<path>`` -> ``hourglasses.<s>.<path>``
    (same ``up1/low1/low2/low3`` names); ``features.<s>.0`` (Residual) /
    ``.1`` (Conv 1x1 + BN) -> ``out_features.<s>.0`` / ``.1``;
    ``outs.<s>.conv`` -> ``predictors.<s>``; ``merge_features.<s>.conv.conv``
    / ``merge_preds.<s>.conv.conv`` -> ``feature_remaps.<s>`` /
    ``prediction_remaps.<s>``. A Residual's ``skip_layer`` is dropped where
    its input and output widths are equal (built but never used there).
    """
    m = re.fullmatch(r'pre\.0\.(conv|bn)\.(\w+)', key)
    if m:
        return f'backbone.stem.0.{m.group(1)}.{m.group(2)}', ''
    m = (
        re.fullmatch(r'(pre)\.([134])\.(.+)', key)
        or re.fullmatch(r'(hgs)\.(\d+)\.0\.((?:(?:up1|low[123])\.)+.+)', key)
        or re.fullmatch(r'(features)\.(\d+)\.0\.(.+)', key))
    if m:
        group, index, rest = m.groups()
        path = ''
        if group == 'hgs':  # the path of up1/low1/low2/low3 names
            path = re.match(r'((?:(?:up1|low[123])\.)+)', rest).group(1)
            rest = rest[len(path):]
        if rest.startswith('skip_layer.'):
            weight = source.get(re.sub(r'\.\w+$', '.weight', key))
            if weight is not None and weight.shape[0] == weight.shape[1]:
                return None, (
                    f'princeton-vl Residual({weight.shape[1]}, '
                    f'{weight.shape[0]}) builds skip_layer but uses it only '
                    'when input and output widths differ')
        target = {
            'pre': f'backbone.stem.{index}.',
            'hgs': f'backbone.hourglasses.{index}.{path}',
            'features': f'backbone.out_features.{index}.0.',
        }[group]
        return target + _residual(rest, PRINCETON_RESIDUAL), ''
    m = re.fullmatch(r'features\.(\d+)\.1\.(conv|bn)\.(\w+)', key)
    if m:
        return 'backbone.out_features.{}.1.{}.{}'.format(*m.groups()), ''
    m = re.fullmatch(r'outs\.(\d+)\.conv\.(\w+)', key)
    if m:
        return 'backbone.predictors.{}.{}'.format(*m.groups()), ''
    m = re.fullmatch(r'merge_(features|preds)\.(\d+)\.conv\.conv\.(\w+)', key)
    if m:
        kind = 'feature' if m.group(1) == 'features' else 'prediction'
        return f'backbone.{kind}_remaps.{m.group(2)}.{m.group(3)}', ''
    raise UnknownKey


# pytorch-pose Hourglass branch index -> our name: hg[n-1][0] is up1,
# [1] low1, [2] low3 and [3] (innermost level only) the bottom residual
BEARPAW_BRANCHES = {'0': 'up1', '1': 'low1', '2': 'low3', '3': 'low2'}
# HourglassNet always builds Hourglass(block, num_blocks, 128, 4)
BEARPAW_DEPTH = 4


def map_bearpaw_key(key: str, source: Mapping[str, torch.Tensor],
                    expected: Mapping[str, torch.Size]) -> Mapped:
    """bearpaw ``HourglassNet`` key -> ours.

    ``conv1``/``bn1`` -> ``stem.0.conv``/``.bn``; ``layer{1,2,3}.0`` ->
    ``stem.{1,3,4}`` (Bottleneck 64 -> 128, 128 -> 256, 256 -> 256; the
    1x1 projection ``downsample.0`` of the first two -> ``skip``; a
    backbone with ``stem_widths=(128, 256, 256)``); ``hg.<s>.hg.<i>.<b>.0``
    -> ``hourglasses.<s>`` + ``low2.`` x (depth - 1 - i) + ``up1`` / ``low1``
    / ``low3`` / ``low2`` for b = 0 / 1 / 2 / 3 (level i = 0 is the
    innermost); ``res.<s>.0`` -> ``out_features.<s>.0``; ``fc.<s>.0`` /
    ``.1`` -> ``out_features.<s>.1.conv`` / ``.bn``; ``score`` ->
    ``predictors``; ``fc_`` -> ``feature_remaps``; ``score_`` ->
    ``prediction_remaps``. More than one block per position (``--blocks``
    > 1) is not this network: such keys are refused.
    """
    m = re.fullmatch(r'(conv|bn)1\.(\w+)', key)
    if m:
        return f'backbone.stem.0.{m.group(1)}.{m.group(2)}', ''
    m = re.fullmatch(r'layer([123])\.0\.(.+)', key)
    if m:
        index = {'1': 1, '2': 3, '3': 4}[m.group(1)]
        return (f'backbone.stem.{index}.' +
                _residual(m.group(2), BEARPAW_BOTTLENECK), '')
    m = re.fullmatch(r'hg\.(\d+)\.hg\.([0-3])\.([0-3])\.0\.(.+)', key)
    if m:
        stack, level, branch, rest = m.groups()
        path = ('low2.' * (BEARPAW_DEPTH - 1 - int(level)) +
                BEARPAW_BRANCHES[branch])
        return (f'backbone.hourglasses.{stack}.{path}.' +
                _residual(rest, BEARPAW_BOTTLENECK), '')
    m = re.fullmatch(r'res\.(\d+)\.0\.(.+)', key)
    if m:
        return (f'backbone.out_features.{m.group(1)}.0.' +
                _residual(m.group(2), BEARPAW_BOTTLENECK), '')
    m = re.fullmatch(r'fc\.(\d+)\.([01])\.(\w+)', key)
    if m:
        layer = 'conv' if m.group(2) == '0' else 'bn'
        return f'backbone.out_features.{m.group(1)}.1.{layer}.{m.group(3)}', ''
    m = re.fullmatch(r'(score|fc_|score_)\.(\d+)\.(\w+)', key)
    if m:
        ours = {
            'score': 'predictors',
            'fc_': 'feature_remaps',
            'score_': 'prediction_remaps'
        }[m.group(1)]
        return f'backbone.{ours}.{m.group(2)}.{m.group(3)}', ''
    if re.fullmatch(r'(hg\.\d+\.hg\.\d+\.\d+|res\.\d+|layer\d)\.[1-9].*', key):
        raise CheckpointMismatchError(
            f'{key}: a second residual block at one position: this '
            'checkpoint was trained with --blocks > 1; only the one-block '
            'networks (hg_s8_b1, hg_s2_b1) are Newell\'s hourglass')
    raise UnknownKey


KEY_MAPS: Dict[str, Callable[..., Mapped]] = {
    'mmpose': map_mmpose_key,
    'pytorch_stacked_hourglass': map_princeton_key,
    'pytorch_pose': map_bearpaw_key,
}


# --------------------------------------------------------------------------
# conversion
# --------------------------------------------------------------------------
def build_meta_model(config: str) -> torch.nn.Module:
    """The model ``config`` builds, on the meta device (no memory)."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    with torch.device('meta'):
        return MODELS.build(cfg.model)


def expected_shapes(config: str) -> Dict[str, torch.Size]:
    """Parameter and buffer shapes of the model that ``config`` builds.

    Args:
        config (str): Path of a config of this plugin.

    Returns:
        dict[str, torch.Size]: State-dict key -> shape.
    """
    return {
        k: v.shape
        for k, v in build_meta_model(config).state_dict().items()
    }


def n_parameters(state_dict: Mapping[str, torch.Tensor]) -> int:
    """Learnable values in a state dict: all but the norm statistics."""
    return sum(v.numel() for k, v in state_dict.items()
               if not k.endswith(NORM_BUFFERS) and k not in PREPROCESSOR_KEYS)


def convert_state_dict(source: Mapping[str, torch.Tensor],
                       expected: Mapping[str, torch.Size],
                       fmt: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map a ``fmt`` state dict onto our model's keys and check it.

    Args:
        source (Mapping[str, Tensor]): The port's state dict, save prefix
            removed (:func:`source_state_dict`).
        expected (Mapping[str, torch.Size]): Our model's keys and shapes
            (:func:`expected_shapes`).
        fmt (str): One of :data:`FORMATS`.

    Returns:
        tuple: The converted state dict (exactly the keys of ``expected``),
        and one message per key dropped or filled in, with the reason.

    Raises:
        ValueError: If ``fmt`` is not a known format.
        CheckpointMismatchError: Naming every source key that is not a key
            of ``fmt`` (and the format the file looks like), every key of
            our model the source lacks, every shape that differs, and a
            source written with more residual blocks per position.
    """
    if fmt not in KEY_MAPS:
        raise ValueError(f'unknown format {fmt!r}; one of {FORMATS}')
    converted: Dict[str, torch.Tensor] = {}
    origin: Dict[str, str] = {}
    notes: List[str] = []
    problems: List[str] = []
    for key, tensor in source.items():
        try:
            target, reason = KEY_MAPS[fmt](key, source, expected)
        except UnknownKey:
            problems.append(f'not a {fmt} key: {key}')
            continue
        if target is None:
            notes.append(f'dropped {key} {tuple(tensor.shape)}: {reason}')
            continue
        origin.setdefault(target, key)
        if target not in expected:
            problems.append(f'{key} -> {target}: the model has no such key '
                            '(other stack count or depth?)')
        elif tensor.shape != expected[target]:
            problems.append(
                f'shape mismatch: {key} -> {target}: checkpoint '
                f'{tuple(tensor.shape)}, model {tuple(expected[target])}')
        elif origin[target] != key:
            problems.append(f'{key} and {origin[target]} both map to {target}')
        else:
            converted[target] = tensor
    missing = [k for k in expected if k not in origin]
    untracked = [k for k in missing if k.endswith('.num_batches_tracked')]
    for key in untracked:  # PyTorch < 0.4.1 did not save this counter
        converted[key] = torch.tensor(0, dtype=torch.long)
    if untracked:
        notes.append(f'set {len(untracked)} num_batches_tracked buffers '
                     'absent from the source (saved by PyTorch < 0.4.1) to '
                     '0; they are not used at test time')
    problems += [
        f'missing in checkpoint: {k}' for k in missing if k not in untracked
    ]
    if problems:
        guessed = guess_format(list(source))
        hint = (f' The file looks like a {guessed} checkpoint: pass --from '
                f'{guessed}.' if guessed not in (None, fmt) else '')
        if fmt == 'pytorch_pose' and any(
                p.startswith('shape mismatch: layer') for p in problems):
            hint += (' pytorch-pose\'s stem is 64 -> 128 -> 256 -> 256: '
                     'the backbone needs stem_widths=(128, 256, 256), as in '
                     'configs/converted/pytorch_pose_hg*_mpii_256.py.')
        shown = problems[:20] + ([f'... {len(problems) - 20} more']
                                 if len(problems) > 20 else [])
        raise CheckpointMismatchError(
            f'the {fmt} checkpoint does not fit the model ({len(problems)} '
            'problems):\n  ' + '\n  '.join(shown) + hint)
    return {k: converted[k] for k in expected}, notes


def read_mean_std(path: str) -> Dict[str, List[float]]:
    """pytorch-pose's ``mean.pth.tar``: per-channel RGB mean and std.

    Args:
        path (str): The file (``torch.save({'mean': (3,), 'std': (3,)})``,
            values of images scaled to [0, 1]).

    Returns:
        dict: ``mean`` and ``std``, three floats each, RGB order, [0, 1].

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it lacks ``mean`` or ``std`` of 3 values in [0, 1].
    """
    ckpt = load_checkpoint_file(path)
    out = {}
    for name in ('mean', 'std'):
        values = torch.as_tensor(ckpt.get(name, []), dtype=torch.float64)
        if values.shape != (3, ) or not ((values >= 0) & (values <= 1)).all():
            raise ValueError(
                f'{path}: "{name}" must hold 3 values in [0, 1] (RGB of '
                f'images scaled to [0, 1]); got {ckpt.get(name)!r}')
        out[name] = [round(float(v), 6) for v in values]
    return out


def preprocessor_lines(mean: Sequence[float]) -> str:
    """The config lines for pytorch-pose's input normalisation.

    Args:
        mean (Sequence[float]): RGB mean of [0, 1]-scaled images.

    Returns:
        str: ``model = dict(data_preprocessor=...)`` with mean x 255 and
        std 255: (RGB - 255 mean) / 255 = RGB / 255 - mean, pytorch-pose's
        ``color_normalize``.
    """
    values = ', '.join(f'{255 * m:.4f}' for m in mean)
    return ('model = dict(data_preprocessor=dict(\n'
            f'    mean=[{values}], std=[255., 255., 255.]))')
