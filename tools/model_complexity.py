"""Parameters and FLOPs of a pose model config.

    python tools/model_complexity.py CONFIG [--shape H W]

CONFIG is a config path or an mmpose model-zoo name. Counts with
``hourglass_plugin.benchmark.model_complexity`` (mmengine's
``get_model_complexity_info``, as mmpose's ``get_flops.py``; the counter
``tools/benchmark.py`` uses too) on the network forward (backbone + head,
one image, no flip test, no decoding). Its "FLOPs" count one fused
multiply-add as one operation, i.e. they are MACs, the convention of mmpose's
model zoo; operators without a counter (batch norm, additions, pooling,
up-sampling) add nothing and are listed in mmengine's "Unsupported operator"
warnings. The input size defaults to the config's ``codec.input_size``.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence, Tuple

from hourglass_plugin.benchmark import model_complexity
from hourglass_plugin.deploy.model_zoo import load_pose_model


def complexity(config: str,
               shape: Optional[Tuple[int, int]] = None) -> Dict[str, object]:
    """Measure a config's model (random initial weights).

    Args:
        config (str): Config file or mmpose model-zoo name.
        shape (tuple[int, int], optional): Input (H, W) in pixels; defaults
            to the config's codec input size.

    Returns:
        dict: ``shape`` (H, W), ``params`` / ``backbone_params`` /
        ``head_params`` (counts), ``flops`` (multiply-adds of one image).
    """
    model = load_pose_model(config, None, device='cpu')
    result = model_complexity(model, shape[::-1] if shape else None)
    width, height = result['input_size']
    return dict(
        shape=(height, width),
        params=result['params'],
        backbone_params=result['backbone_params'],
        head_params=result['head_params'],
        flops=result['macs'])


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
    lines = [
        f'| {"":<{width0}} | {"":<{width1}} |',
        f'|{"-" * (width0 + 2)}|{"-" * (width1 + 2)}|'
    ]
    lines += [f'| {a:<{width0}} | {b:<{width1}} |' for a, b in rows]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the complexity table of a config; return the exit status."""
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of a pose model config')
    parser.add_argument('config', help='config file or mmpose model name')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width in pixels (default: codec.input_size)')
    args = parser.parse_args(argv)
    result = complexity(args.config, tuple(args.shape) if args.shape else None)
    print(format_table(args.config, result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
