"""Parameters and multiply-adds (mmpose's "FLOPs") of a pose model config.

    python tools/model_complexity.py CONFIG [--shape H W]

CONFIG: a config path or an mmpose model-zoo name; random initial weights.
Counts with ``hourglass_plugin.benchmark.model_complexity`` (mmengine's
counter, as mmpose's ``get_flops.py``) on the network ``crop -> heatmaps``.
"""
import argparse

from hourglass_plugin.benchmark import model_complexity
from hourglass_plugin.deploy.model_zoo import load_pose_model
from hourglass_plugin.engine.cli import add_debug_arg, run_tool


def main(argv=None) -> int:
    """Print the counts of a config as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'))
    add_debug_arg(parser)
    args = parser.parse_args(argv)
    size = tuple(args.shape[::-1]) if args.shape else None
    c = model_complexity(load_pose_model(args.config), size)
    print('| input (H x W) | params | backbone | head | GMACs |\n'
          '|---|---:|---:|---:|---:|\n'
          f'| {c["input_size"][1]} x {c["input_size"][0]} | {c["params"]:,} '
          f'| {c["backbone_params"]:,} | {c["head_params"]:,} '
          f'| {c["macs"] / 1e9:.2f} |')
    return 0


if __name__ == '__main__':
    run_tool(main)
