"""Print and plot the training loss and validation PCKh of a run.

    python tools/plot_curves.py WORK_DIR [--out curves.png]

Reads the newest ``WORK_DIR/<timestamp>/vis_data/scalars.json`` that mmengine's
``LocalVisBackend`` writes (one json object per logged step: training lines
hold ``loss``, validation lines ``PCK``/``PCK@0.1``), prints the loss averaged
of each validated epoch (and the first) beside its PCKh, and saves a
two-panel PNG. Logged losses are mmengine's window means
(``log_processor.window_size``; 1 in the sample config, i.e. raw values).
"""
import argparse
import glob
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def read_scalars(work_dir: str) -> Tuple[List[dict], List[dict]]:
    """Return (training records, validation records) of the newest run.

    Raises:
        FileNotFoundError: No ``*/vis_data/scalars.json`` under ``work_dir``.
    """
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: was it trained '
            'with LocalVisBackend?')
    train, val = [], []
    with open(files[-1]) as f:
        for line in f:
            rec = json.loads(line)
            (val if 'PCK' in rec else train).append(rec)
    return train, val


def loss_per_epoch(train: List[dict]) -> Dict[int, float]:
    """Mean of the logged ``loss`` values per epoch (1-based epochs)."""
    sums: Dict[int, List[float]] = defaultdict(list)
    for rec in train:
        if 'loss' in rec:
            sums[int(rec.get('epoch', 0))].append(rec['loss'])
    return {e: sum(v) / len(v) for e, v in sorted(sums.items())}


def main(argv: Optional[List[str]] = None) -> None:
    """Print the loss/PCKh table and write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='PNG path (default WORK_DIR/curves.png)')
    args = parser.parse_args(argv)
    train, val = read_scalars(args.work_dir)
    losses = loss_per_epoch(train)
    pck = {int(r['step']): r for r in val}
    print(f'{"epoch":>5} {"loss":>10} {"PCKh@0.5":>9} {"PCKh@0.1":>9}')
    for epoch, loss in losses.items():
        r = pck.get(epoch)
        if r is None and epoch != min(losses):
            continue  # one row per validation, plus the first epoch
        extra = (f' {r["PCK"]:9.2f} {r["PCK@0.1"]:9.2f}' if r else '')
        print(f'{epoch:5d} {loss:10.6f}{extra}')
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot([r['step'] for r in train if 'loss' in r],
             [r['loss'] for r in train if 'loss' in r])
    ax1.set(
        xlabel='iteration',
        ylabel='training loss (sum over stacks)',
        yscale='log',
        title='loss')
    ax2.plot(
        list(pck), [r['PCK'] for r in pck.values()],
        'o-',
        label='PCKh@0.5 Mean')
    ax2.plot(
        list(pck), [r['PCK@0.1'] for r in pck.values()],
        's-',
        label='PCKh@0.1 Mean')
    ax2.set(xlabel='epoch', ylabel='%', title='validation PCKh')
    ax2.legend()
    fig.tight_layout()
    out = args.out or osp.join(args.work_dir, 'curves.png')
    fig.savefig(out, dpi=100)
    print(f'curves saved to {out}')


if __name__ == '__main__':
    main()
