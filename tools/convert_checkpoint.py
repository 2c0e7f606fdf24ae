"""Convert public stacked-hourglass checkpoints for this plugin's configs.

    python tools/convert_checkpoint.py SRC DST --from FORMAT [--config CONFIG]
        [--mean-std mean.pth.tar] [--trust-pickle]

FORMAT (the code base SRC was saved by): ``mmpose``,
``pytorch_stacked_hourglass`` (princeton-vl) or ``pytorch_pose`` (bearpaw);
their key layouts are described in
:mod:`hourglass_plugin.models.checkpoint_conversion`. mmpose checkpoints need
no conversion: ``CornerHourglassNet`` drops their unused block on load.

Every source key is mapped to a key of the model CONFIG builds (default: the
matching config of ``configs/`` for the format and stack count) or dropped
with the reason printed; every shape is checked. A key of another format, a
missing key or a wrong shape stops the conversion with a message naming the
key, and nothing is written. DST is an mmengine checkpoint: ``state_dict``
and ``meta`` (source file, format and URL, parameter counts, dropped keys,
the config's ``dataset_meta``), which ``mmpose.apis.init_model(CONFIG, DST)``
loads with no missing or unexpected keys.

``--mean-std`` (pytorch_pose): pytorch-pose's ``mean.pth.tar``
(``{'mean', 'std'}``, RGB in [0, 1]); its values go into ``meta`` and the
``data_preprocessor`` lines for the config are printed. pytorch-pose's
``color_normalize`` subtracts the mean and does not divide by the std
(``pose/utils/transforms.py``), so the printed std is 255 (the /255 scaling).
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmpose.apis.inference import dataset_meta_from_config

from hourglass_plugin.models.checkpoint_conversion import (
    FORMATS, SOURCE_URLS, build_meta_model, convert_state_dict, count_stacks,
    guess_format, load_checkpoint_file, n_parameters, preprocessor_lines,
    read_mean_std, source_state_dict)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# (format, number of stacks) -> default target config
DEFAULT_CONFIGS = {
    ('mmpose', 1): 'configs/hourglass52_mpii_256.py',
    ('pytorch_stacked_hourglass', 8):
    'configs/converted/pytorch_stacked_hourglass_8stack_mpii_256.py',
    ('pytorch_stacked_hourglass', 2):
    'configs/converted/pytorch_stacked_hourglass_2stack_mpii_256.py',
    ('pytorch_pose', 8): 'configs/converted/pytorch_pose_hg8_mpii_256.py',
    ('pytorch_pose', 2): 'configs/converted/pytorch_pose_hg2_mpii_256.py',
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of the tool."""
    parser = argparse.ArgumentParser(
        description='Convert an mmpose, pytorch_stacked_hourglass or '
        'pytorch-pose checkpoint for this plugin\'s configs')
    parser.add_argument('src', help='source checkpoint')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--from',
        dest='fmt',
        required=True,
        choices=FORMATS,
        help='the code base SRC was saved by')
    parser.add_argument(
        '--config',
        help='config of the target model (default: the configs/ one for '
        'the format and the stack count of SRC)')
    parser.add_argument(
        '--mean-std',
        metavar='MEAN_PTH_TAR',
        help='pytorch_pose only: its mean.pth.tar; stored in the output '
        'meta, and the data_preprocessor lines are printed')
    parser.add_argument(
        '--trust-pickle',
        action='store_true',
        help='load SRC with torch.load(weights_only=False); only for '
        'files you trust')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert ``src`` to ``dst``; return the process exit status.

    Raises:
        FileNotFoundError, ValueError, CheckpointMismatchError: See
            :func:`load_checkpoint_file`, :func:`source_state_dict` and
            :func:`convert_state_dict`; ``ValueError`` also when no default
            config fits the stack count, or for ``--mean-std`` with another
            format.
    """
    args = parse_args(argv)
    if args.mean_std and args.fmt != 'pytorch_pose':
        raise ValueError('--mean-std is for --from pytorch_pose only')
    mean_std = read_mean_std(args.mean_std) if args.mean_std else None
    ckpt = load_checkpoint_file(args.src, args.trust_pickle)
    source = source_state_dict(ckpt, args.src, args.fmt)
    config = args.config
    if config is None:
        stacks = count_stacks(list(source), args.fmt)
        if (args.fmt, stacks) not in DEFAULT_CONFIGS:
            guessed = guess_format(list(source))
            raise ValueError(
                f'{args.src}: no default config for a {args.fmt} checkpoint '
                f'with {stacks} stacks' +
                (f' (the file looks like {guessed})' if guessed not in
                 (None, args.fmt) else '') + '; pass --config')
        config = osp.join(REPO_ROOT, DEFAULT_CONFIGS[(args.fmt, stacks)])
    model = build_meta_model(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    converted, notes = convert_state_dict(source, expected, args.fmt)

    ours = sum(p.numel() for p in model.parameters())
    theirs = n_parameters(source)
    dropped = [n.split(' ')[1] for n in notes if n.startswith('dropped ')]
    print(f'{args.src} ({args.fmt}): {len(source)} tensors -> all '
          f'{len(converted)} tensors of the model of {config}, shapes '
          'checked')
    for note in notes:
        print('  ' + note)
    print(f'parameters: {theirs:,} in the source network, {ours:,} in ours' +
          (f' ({theirs - ours:,} in never-used layers dropped)' if theirs !=
           ours else ''))
    meta = dict(
        converted_from=osp.basename(args.src),
        source_format=args.fmt,
        source_url=SOURCE_URLS[args.fmt],
        source_parameters=theirs,
        parameters=ours,
        dropped_keys=dropped,
        config=osp.relpath(config, REPO_ROOT),
        dataset_meta=dataset_meta_from_config(
            Config.fromfile(config), dataset_mode='train'))
    if mean_std is not None:
        meta['mean_std'] = dict(
            mean_std,
            note='RGB of [0, 1] images; pytorch-pose subtracts the mean '
            'only (color_normalize), the std is not applied')
        print('input normalisation of pytorch-pose (RGB / 255 - mean; its '
              'std is not applied): use in the config\n' +
              preprocessor_lines(mean_std['mean']))
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'convert_checkpoint.py: error: {err}')
