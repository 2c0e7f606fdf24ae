"""Check a dataset before a long run: decode every image once, in parallel.

    python tools/check_dataset.py CONFIG [--split train|val|test]
        [--threads N] [--cfg-options k=v ...] [--debug]

Builds the split's dataset from the config (annotation errors end the check
with one line, ``error: ...``, exit code 1; the traceback with ``--debug``),
decodes every image with the pipeline's own loader (its ``LoadImage`` step)
and strictly with Pillow, and checks that each record's visible joints lie
inside its image and its person box overlaps it. Prints one line per bad
record, ``<ann_file>, record <index>: image <path>: <what>`` (unreadable,
empty, truncated, joints outside, box outside), sorted by record index, with
mmengine's progress bar while it runs; for ``MPIIPoseDataset`` also the
records without a box to crop (center ``(-1, -1)``) and those whose scale is
outside the sane range, ``<ann_file>, record <index>: <what>``. Exit code 0
when all is well, 1 otherwise.

The same check runs at dataset initialisation with
``train_dataloader.dataset.check_images=True``.
"""
import argparse
import copy
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from hourglass_plugin.datasets import MPIIPoseDataset  # noqa: E402
from hourglass_plugin.engine import cli, data_check  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Decode every image of a dataset split once and list '
        'unreadable, empty or truncated images and joints outside images')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='which <split>_dataloader.dataset to check')
    parser.add_argument(
        '--threads', type=int, default=8, help='images decoded at once')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    cli.add_debug_arg(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the check; return the exit code (0 clean, 1 problems found).

    Raises:
        SystemExit: ``error: ...`` (code 1) when the config has no such
            split or names an unknown dataset type.
        DatasetError: A malformed annotation file (the message names the
            file and record; one line through :func:`cli.run_tool`).
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    from mmpose.registry import DATASETS
    loader_cfg = cfg.get(f'{args.split}_dataloader')
    if not loader_cfg or 'dataset' not in loader_cfg:
        raise SystemExit(f'error: {args.config} has no '
                         f'{args.split}_dataloader.dataset')
    dataset_cfg = copy.deepcopy(loader_cfg.dataset)
    dataset_cfg.update(lazy_init=False)
    if 'check_images' in dataset_cfg:
        dataset_cfg.check_images = False  # checked below, once
    try:
        dataset_type = DATASETS.get(dataset_cfg.type) \
            if isinstance(dataset_cfg.type, str) else dataset_cfg.type
    except KeyError as err:
        raise SystemExit(f'error: {err}') from None
    if dataset_type is None:
        raise SystemExit(f'error: unknown dataset type {dataset_cfg.type} '
                         f'({args.config})')
    mpii = issubclass(dataset_type, MPIIPoseDataset)
    if mpii:
        dataset_cfg.bad_boxes = 'drop'  # listed below with the others
    dataset = DATASETS.build(dataset_cfg)
    ann_file = getattr(dataset, 'ann_file', args.config)
    data_list = [dataset.get_data_info(i) for i in range(len(dataset))]
    num_records = len(data_list) + len(getattr(dataset, 'dropped', {}))
    num_images = len({info['img_path'] for info in data_list})
    print(f'checking {num_records} records, {num_images} images of '
          f'{ann_file}')
    found = [(p.index, str(p)) for p in data_check.check_samples(
        data_list, ann_file,
        data_check.find_image_loader(dataset_cfg.get('pipeline', [])),
        dataset.metainfo.get('keypoint_id2name'), args.threads)]
    if mpii:
        found += [*dataset.scale_warnings.items(), *dataset.dropped.items()]
    problems = [message for _, message in sorted(found)]
    for problem in problems:
        print(problem)
    if problems:
        print(f'{len(problems)} bad record(s) of {num_records} in '
              f'{ann_file}')
        return 1
    print(f'all {num_records} records of {ann_file} are fine')
    return 0


if __name__ == '__main__':
    cli.run_tool(main)
