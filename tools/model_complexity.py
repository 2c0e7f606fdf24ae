"""Parameters and FLOPs of a pose model config.

    python tools/model_complexity.py CONFIG [--shape H W]

Counts with mmengine's ``get_model_complexity_info`` (fvcore's counter) on
the network forward (backbone + head, one image, no flip test, no decoding).
Its "FLOPs" count one fused multiply-add as one operation, i.e. they are
MACs, the convention of mmpose's model zoo and ``get_flops.py``; operators
without a counter (batch norm, additions, pooling, up-sampling) add nothing
and are listed in mmengine's "Unsupported operator" warnings. The input size
defaults to the config's ``codec.input_size``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def input_size_of(cfg: Config) -> Tuple[int, int]:
    """(H, W) in input pixels from ``cfg.codec.input_size`` (W, H).

    Raises:
        ValueError: If the config has no ``codec.input_size``.
    """
    codec = cfg.get('codec')
    if not codec or 'input_size' not in codec:
        raise ValueError(
            'the config has no codec.input_size; pass --shape H W')
    width, height = codec['input_size']
    return int(height), int(width)


def complexity(config: str,
               shape: Optional[Tuple[int, int]] = None) -> Dict[str, object]:
    """Measure a config's model.

    Args:
        config (str): Config file.
        shape (tuple[int, int], optional): Input (H, W) in pixels; defaults
            to the config's codec input size.

    Returns:
        dict: ``shape`` (H, W), ``params`` / ``backbone_params`` /
        ``head_params`` (counts), ``flops`` (multiply-adds of one image).
    """
    from mmpose.apis import init_model
    cfg = Config.fromfile(config)
    height, width = shape or input_size_of(cfg)
    model = init_model(cfg, checkpoint=None, device='cpu')
    model.forward = model._forward  # tensors in, heatmaps out
    info = get_model_complexity_info(
        model,
        inputs=(torch.zeros(1, 3, height, width), ),
        show_table=False,
        show_arch=False)
    return dict(
        shape=(height, width),
        params=info['params'],
        backbone_params=sum(p.numel() for p in model.backbone.parameters()),
        head_params=sum(p.numel() for p in model.head.parameters()),
        flops=info['flops'])


def format_table(config: str, result: Dict[str, object]) -> str:
    """The measurements as a Markdown table."""
    height, width = result['shape']
    rows = [
        ('config', osp.basename(config)),
        ('input (H x W, pixels)', f'{height} x {width}'),
        ('parameters',
         f"{result['params']:,} ({result['params'] / 1e6:.2f}M)"),
        ('  backbone', f"{result['backbone_params']:,}"),
        ('  head', f"{result['head_params']:,}"),
        ('FLOPs (multiply-adds)', f"{result['flops'] / 1e9:.2f} G"),
    ]
    width0 = max(len(r[0]) for r in rows)
    width1 = max(len(r[1]) for r in rows)
    lines = [f'| {"":<{width0}} | {"":<{width1}} |',
             f'|{"-" * (width0 + 2)}|{"-" * (width1 + 2)}|']
    lines += [f'| {a:<{width0}} | {b:<{width1}} |' for a, b in rows]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the complexity table of a config; return the exit status."""
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of a pose model config')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='input height and width in pixels (default: codec.input_size)')
    args = parser.parse_args(argv)
    result = complexity(args.config, tuple(args.shape) if args.shape else None)
    print(format_table(args.config, result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
