"""Score saved MPII validation predictions with PCKh like the field's scripts.

    python tools/eval_mpii.py PRED --gt GT_MAT [--out-json FILE]
        [--zero-based] [--unweighted] [--inclusive]

PRED: ``.mat`` (key ``preds``, HRNet's ``pred.mat`` and ``tools/test.py
--pred-mat``), ``.h5`` (dataset ``preds``, the original hourglass code),
``.npy`` or ``.json``; shape (N, 16, 2) with N = the people in GT_MAT
(2,958 for the standard validation split), MPII joint order, 1-based MATLAB
pixels unless ``--zero-based``. GT_MAT: ``gt_valid.mat`` / mmpose's
``mpii_gt_val.mat`` (``pos_gt_src``, ``jnt_missing``, ``headboxes_src``).

Protocol (HRNet ``lib/dataset/mpii.py`` ``evaluate``; MATLAB toolkit
``evaluatePCKh``): head size = 0.6 x head-box diagonal, visible =
``1 - jnt_missing``, PCKh@0.5 per joint group, Mean over the 14 joints
without pelvis and thorax. Defaults follow mmpose 1.x (``<`` threshold,
Mean weighted by visible counts), so the numbers equal ``MPIIPCKhMetric``'s;
``--inclusive`` uses HRNet's ``<=``, ``--unweighted`` the plain mean of the
14 joints. Mean@0.1 is computed at exactly 0.1 head sizes (HRNet's script
prints ``pckAll[11]``, i.e. 0.11, under that name).

Prints the header line ``Head Shoulder Elbow Wrist Hip Knee Ankle Mean
Mean@0.1`` and a line of values in percent. ``--out-json`` also writes those
keys, ``AUC`` (thresholds 0..0.5) and the 16 per-joint values by joint name
(null where a joint is never visible). A bad file prints one error line
naming the problem and exits with status 1.
"""
import argparse
import json
import math
import sys
from typing import Dict, List, Optional

from hourglass_plugin.evaluation import (load_mpii_gt_mat, load_predictions,
                                         mpii_pckh)
from hourglass_plugin.mpii import MPII_JOINT_NAMES, PCKH_GROUPS

#: Columns of the printed table, in order.
TABLE_KEYS = (*PCKH_GROUPS, 'Mean', 'Mean@0.1')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='PCKh of saved MPII predictions against the val GT')
    parser.add_argument('pred', help='.mat/.h5/.npy/.json predictions')
    parser.add_argument(
        '--gt',
        required=True,
        help='ground truth: gt_valid.mat / mpii_gt_val.mat')
    parser.add_argument('--out-json', help='write the results here')
    parser.add_argument(
        '--zero-based',
        action='store_true',
        help='predictions are 0-based pixels (add 1)')
    parser.add_argument(
        '--unweighted',
        action='store_true',
        help='Mean = plain average of the 14 joints')
    parser.add_argument(
        '--inclusive',
        action='store_true',
        help="count dist <= thr as correct (HRNet)")
    return parser.parse_args(argv)


def evaluate_file(pred_file: str,
                  gt_file: str,
                  zero_based: bool = False,
                  weighted: bool = True,
                  inclusive: bool = False) -> Dict[str, float]:
    """PCKh@0.5 of a prediction file.

    Args:
        pred_file (str): Predictions, (N, 16, 2) pixels.
        gt_file (str): MPII ground-truth ``.mat``, 1-based.
        zero_based (bool): ``pred_file`` holds 0-based pixels.
        weighted (bool): Mean weighted by visible counts.
        inclusive (bool): ``dist <= 0.5`` counts as correct.

    Returns:
        dict[str, float]: ``TABLE_KEYS``, ``'AUC'`` and one value per joint
        name, in percent (NaN for joints never visible).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: a bad file (see ``load_predictions``,
            ``load_mpii_gt_mat``) or N differing between the two files.
    """
    gt = load_mpii_gt_mat(gt_file)
    preds = load_predictions(pred_file)
    if len(preds) != len(gt.keypoints):
        raise ValueError(f'{pred_file} has {len(preds)} people but {gt_file} '
                         f'has {len(gt.keypoints)}')
    if zero_based:
        preds = preds + 1.0  # to the GT's 1-based pixels
    stats = mpii_pckh(
        preds,
        gt.keypoints,
        gt.visible,
        gt.head_size,
        weighted=weighted,
        inclusive=inclusive)
    results = {key: stats[key] for key in (*TABLE_KEYS, 'AUC')}
    results.update(zip(MPII_JOINT_NAMES, stats['per_joint'].tolist()))
    return results


def format_table(results: Dict[str, float]) -> str:
    """Header line and value line of ``TABLE_KEYS`` (percent, 2 decimals)."""
    header = ' '.join(f'{key:>8}' for key in TABLE_KEYS)
    values = ' '.join(f'{results[key]:8.2f}' for key in TABLE_KEYS)
    return f'{header}\n{values}'


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool; returns the exit status (0 ok, 1 bad input)."""
    args = parse_args(argv)
    try:
        results = evaluate_file(
            args.pred,
            args.gt,
            zero_based=args.zero_based,
            weighted=not args.unweighted,
            inclusive=args.inclusive)
        print(format_table(results))
        if args.out_json:
            with open(args.out_json, 'w') as f:
                json.dump(
                    {
                        key: None if math.isnan(value) else value
                        for key, value in results.items()
                    },
                    f,
                    indent=2)
    except (OSError, ValueError) as exc:
        print(f'eval_mpii.py: error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
