"""Print and plot the training loss and validation PCKh of a run.

    python tools/plot_curves.py WORK_DIR [--out curves.png]

Reads the newest ``WORK_DIR/<timestamp>/vis_data/scalars.json`` (mmengine's
``LocalVisBackend``: training lines hold ``loss``, validation lines
``PCK``/``PCK@0.1``), prints each validated epoch's mean logged loss beside
its PCKh, and saves a two-panel PNG (default ``WORK_DIR/curves.png``).
"""
import argparse
import glob
import json
import os.path as osp
from collections import defaultdict

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None) -> None:
    """Print the loss/PCKh table and write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out')
    args = parser.parse_args(argv)
    files = sorted(
        glob.glob(osp.join(args.work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise SystemExit(f'error: no */vis_data/scalars.json under '
                         f'{args.work_dir}')
    with open(files[-1]) as f:
        logs = [json.loads(line) for line in f]
    train = [r for r in logs if 'loss' in r]
    val = {int(r['step']): r for r in logs if 'PCK' in r}
    losses = defaultdict(list)
    for r in train:
        losses[int(r.get('epoch', 0))].append(r['loss'])
    print(f'{"epoch":>5} {"loss":>10} {"PCKh@0.5":>9} {"PCKh@0.1":>9}')
    for epoch, values in sorted(losses.items()):
        if epoch in val or epoch == min(losses):
            pck = val.get(epoch)
            extra = f' {pck["PCK"]:9.2f} {pck["PCK@0.1"]:9.2f}' if pck else ''
            print(f'{epoch:5d} {sum(values) / len(values):10.6f}{extra}')
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot([r['step'] for r in train], [r['loss'] for r in train])
    ax1.set(
        xlabel='iteration',
        ylabel='training loss (sum over stacks)',
        yscale='log',
        title='loss')
    for key, label in (('PCK', 'PCKh@0.5 Mean'), ('PCK@0.1', 'PCKh@0.1')):
        ax2.plot(list(val), [r[key] for r in val.values()], 'o-', label=label)
    ax2.set(xlabel='epoch', ylabel='%', title='validation PCKh')
    ax2.legend()
    fig.tight_layout()
    out = args.out or osp.join(args.work_dir, 'curves.png')
    fig.savefig(out, dpi=100)
    print(f'curves saved to {out}')


if __name__ == '__main__':
    main()
