"""Convert an mmpose HG-52 / HG-104 checkpoint for this plugin's models.

    python tools/convert_mmpose_checkpoint.py SRC DST [--config CONFIG]
        [--trust-pickle]

SRC: a checkpoint of mmpose's ``HourglassNet`` + ``CPMHead`` (for example the
published ``hourglass52_mpii_256x256-ae358435_20200812.pth``): a dict with a
``state_dict`` of ``backbone.*`` and ``head.*`` tensors (mmpose 0.x's
``keypoint_head.*`` is read as ``head.*``, as mmpose 1.x does). DST: a
checkpoint that ``mmpose.apis.init_model(CONFIG, DST)`` loads into
``CornerHourglassNet`` + ``StackedHeatmapHead`` with no missing or unexpected
keys.

Our layers keep mmpose's names, so the conversion only drops what our model
does not build: the inter-stack block ``backbone.inters.*`` that mmpose
creates but never uses at one stack, and the data preprocessor's mean/std
buffers. Every kept tensor's shape is checked against the model CONFIG
builds; any mismatch, missing key or other unknown key stops the conversion
with a list of the offending keys. Nothing is renamed otherwise; the tool
says so.
"""
import argparse
import os.path as osp
import pickle
import re
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
# registers our models and lets weights_only loads read mmengine's
# checkpoint types (numpy arrays/scalars, HistoryBuffer)
import hourglass_plugin  # noqa: E402, F401
from mmpose.registry import MODELS  # noqa: E402

DEFAULT_CONFIG = osp.join(REPO_ROOT, 'configs', 'hourglass52_mpii_256.py')
# buffers of mmengine's data preprocessor: rebuilt from the config
PREPROCESSOR_KEYS = ('data_preprocessor.mean', 'data_preprocessor.std')
# batch-norm statistics: state-dict entries that are not parameters
NORM_BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the target model (keys or shapes)."""


def load_source_state_dict(
        path: str, trust_pickle: bool = False) -> Dict[str, torch.Tensor]:
    """Read the model weights of an mmpose checkpoint.

    Args:
        path (str): Checkpoint file (``torch.save`` of a dict holding
            ``state_dict``, or of a bare state dict).
        trust_pickle (bool): Load with ``weights_only=False`` (runs arbitrary
            pickled code: only for files you trust). By default the file is
            read with ``weights_only=True``, which accepts tensors, plain
            metadata and the numpy / mmengine types of Runner checkpoints
            (allowed by ``hourglass_plugin.engine``): mmpose's published
            and mmpose 1.x-trained checkpoints load that way.

    Returns:
        dict[str, Tensor]: The state dict (``module.`` prefixes of a
        DDP-wrapped save removed).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file holds objects outside torch's weights-only
            allow-list (and ``trust_pickle`` is False) or no state dict.
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
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt,
                                                            Mapping) else None
    if not isinstance(state_dict, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f'{path}: no state dict of tensors found (expected '
                         'a dict with a "state_dict" entry)')
    return {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }


def expected_shapes(config: str) -> Dict[str, torch.Size]:
    """Parameter and buffer shapes of the model that ``config`` builds.

    Args:
        config (str): Path of a config of this plugin.

    Returns:
        dict[str, torch.Size]: State-dict key -> shape.
    """
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    return {k: v.shape for k, v in model.state_dict().items()}


def convert_state_dict(
    source: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size]
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map an mmpose HourglassNet + CPMHead state dict onto our model's keys.

    Args:
        source (Mapping[str, Tensor]): mmpose's state dict.
        expected (Mapping[str, torch.Size]): Our model's keys and shapes.

    Returns:
        tuple: The converted state dict, and one message per change made
        (renamed or dropped keys).

    Raises:
        CheckpointMismatchError: Listing every key whose shape differs,
            every key of our model missing from ``source`` and every
            ``source`` key our model does not have (other than the unused
            inter-stack block and the preprocessor buffers).
    """
    # mmpose 0.x called the head keypoint_head (mmpose 1.x renames it too)
    old_head = 'keypoint_head.'
    renamed = sum(k.startswith(old_head) for k in source)
    source = {
        ('head.' + k[len(old_head):] if k.startswith(old_head) else k): v
        for k, v in source.items()
    }
    converted: Dict[str, torch.Tensor] = {}
    notes: List[str] = []
    dropped_inter_stack: List[str] = []
    problems: List[str] = []
    has_inters = any(k.startswith('backbone.inters.') for k in expected)
    for key, tensor in source.items():
        if key in PREPROCESSOR_KEYS:
            notes.append(f'dropped {key} (rebuilt from the config)')
        elif key.startswith('backbone.inters.') and not has_inters:
            dropped_inter_stack.append(key)
        elif key not in expected:
            problems.append(f'unexpected in checkpoint: {key}')
        elif tensor.shape != expected[key]:
            problems.append(
                f'shape mismatch: {key}: checkpoint {tuple(tensor.shape)}, '
                f'model {tuple(expected[key])}')
        else:
            converted[key] = tensor
    problems += [
        f'missing in checkpoint: {k}' for k in expected if k not in source
    ]
    if problems:
        raise CheckpointMismatchError(
            f'the checkpoint does not fit the model ({len(problems)} '
            'problems):\n  ' + '\n  '.join(problems))
    if renamed:
        notes.append(f'renamed {renamed} keypoint_head.* keys to head.*')
    if dropped_inter_stack:
        n_params = sum(source[k].numel() for k in dropped_inter_stack
                       if not k.endswith(NORM_BUFFERS))
        notes.append(
            f'dropped {len(dropped_inter_stack)} backbone.inters.* tensors '
            f'({n_params:,} parameters): the inter-stack block mmpose builds '
            'but never uses with one stack')
    return converted, notes


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Convert an mmpose HourglassNet checkpoint for '
        'CornerHourglassNet + StackedHeatmapHead')
    parser.add_argument('src', help='mmpose checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--config', default=DEFAULT_CONFIG,
        help='config of the target model (default: %(default)s)')
    parser.add_argument(
        '--trust-pickle', action='store_true',
        help='load SRC with torch.load(weights_only=False); only for '
        'files you trust')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert ``src`` to ``dst``; return the process exit status.

    Raises:
        FileNotFoundError, ValueError, CheckpointMismatchError: See
            :func:`load_source_state_dict` and :func:`convert_state_dict`.
    """
    args = parse_args(argv)
    source = load_source_state_dict(args.src, args.trust_pickle)
    expected = expected_shapes(args.config)
    converted, notes = convert_state_dict(source, expected)
    print(f'{args.src}: {len(source)} tensors; all {len(converted)} tensors '
          f'of the model in {args.config} found with matching shapes')
    for note in notes:
        print('  ' + note)
    if not any(n.startswith('renamed') for n in notes):
        print('  no key needed renaming: all kept keys are mmpose\'s')
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(converted_from=osp.basename(args.src))), args.dst)
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
