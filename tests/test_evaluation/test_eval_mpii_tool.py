"""tools/eval_mpii.py on the real 2,958-person MPII validation GT."""
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from hourglass_plugin.evaluation import mpii_pckh
from hourglass_plugin.mpii import MPII_JOINT_NAMES

HEADER = [
    'Head', 'Shoulder', 'Elbow', 'Wrist', 'Hip', 'Knee', 'Ankle', 'Mean',
    'Mean@0.1'
]


def write_preds(path, preds: np.ndarray) -> str:
    """Save (N, 16, 2) predictions in the format given by the extension."""
    path = str(path)
    if path.endswith('.mat'):
        savemat(path, {'preds': preds})
    elif path.endswith('.h5'):
        with h5py.File(path, 'w') as f:
            f['preds'] = preds
    elif path.endswith('.npy'):
        np.save(path, preds)
    else:
        with open(path, 'w') as f:
            json.dump(preds.tolist(), f)
    return path


def run_tool(eval_mpii, capsys, *argv):
    """main(argv) -> (exit status, stdout lines, stderr)."""
    status = eval_mpii.main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out.splitlines(), out.err


def test_gt_as_prediction_prints_100(eval_mpii, capsys, tmp_path, val_gt,
                                     gt_mat_file):
    pred = write_preds(tmp_path / 'gt.mat', val_gt.keypoints)
    out_json = tmp_path / 'res.json'
    status, lines, err = run_tool(eval_mpii, capsys, pred, '--gt', gt_mat_file,
                                  '--out-json', out_json)
    assert status == 0 and err == ''
    assert lines[0].split() == HEADER
    assert lines[1].split() == ['100.00'] * 9
    results = json.loads(out_json.read_text())
    assert set(results) == {*HEADER, 'AUC', *MPII_JOINT_NAMES}
    assert all(results[k] == 100.0 for k in (*HEADER, *MPII_JOINT_NAMES))
    assert results['AUC'] == pytest.approx(99.0)  # "0 < 0" at threshold 0


@pytest.mark.parametrize('ext', ['.h5', '.npy', '.json'])
def test_every_format_and_zero_based_give_the_same_numbers(
        eval_mpii, capsys, tmp_path, gt_mat_file, tompson_preds, ext):
    reference = eval_mpii.evaluate_file(
        write_preds(tmp_path / 'ref.mat', tompson_preds), gt_mat_file)
    same = eval_mpii.evaluate_file(
        write_preds(tmp_path / f'p{ext}', tompson_preds), gt_mat_file)
    zero_based = eval_mpii.evaluate_file(
        write_preds(tmp_path / f'z{ext}', tompson_preds - 1.0),
        gt_mat_file,
        zero_based=True)
    assert same == reference
    assert zero_based.keys() == reference.keys()
    for key, value in reference.items():
        assert zero_based[key] == pytest.approx(value, abs=1e-9), key
    # real predictions (Tompson et al.): a realistic PCKh, not 0 or 100
    assert 80 < reference['Mean'] < 85 and 20 < reference['Mean@0.1'] < 40


def test_matches_an_independent_hrnet_style_count(eval_mpii, tmp_path,
                                                  gt_mat_file, val_gt,
                                                  tompson_preds):
    """Per joint: 100 * #(visible and err <= 0.5 head sizes) / #visible,
    HRNet's compare (--inclusive), written as a plain loop."""
    pred = write_preds(tmp_path / 'p.mat', tompson_preds)
    results = eval_mpii.evaluate_file(pred, gt_mat_file, inclusive=True)
    for j, name in enumerate(MPII_JOINT_NAMES):
        hits = total = 0
        for i in range(len(tompson_preds)):
            if val_gt.visible[i, j]:
                err = np.hypot(*(tompson_preds[i, j] - val_gt.keypoints[i, j]))
                hits += err <= 0.5 * val_gt.head_size[i]
                total += 1
        assert results[name] == pytest.approx(100.0 * hits / total), name
    assert results['Head'] == results['head_top']
    assert results['Wrist'] == pytest.approx(
        (results['left_wrist'] + results['right_wrist']) / 2)


def test_flags_reach_the_core(eval_mpii, capsys, tmp_path, gt_mat_file, val_gt,
                              analytic_preds):
    pred = write_preds(tmp_path / 'a.npy', analytic_preds)
    out_json = tmp_path / 'res.json'
    status, lines, _ = run_tool(eval_mpii, capsys, pred, '--gt', gt_mat_file,
                                '--unweighted', '--inclusive', '--out-json',
                                out_json)
    stats = mpii_pckh(
        analytic_preds,
        val_gt.keypoints,
        val_gt.visible,
        val_gt.head_size,
        weighted=False,
        inclusive=True)
    results = json.loads(out_json.read_text())
    assert status == 0
    for key in (*HEADER, 'AUC'):
        assert results[key] == pytest.approx(stats[key], abs=1e-12), key
    assert [float(v) for v in lines[1].split()
            ] == pytest.approx([stats[k] for k in HEADER], abs=0.005)
    weighted = eval_mpii.evaluate_file(pred, gt_mat_file)
    assert weighted['Mean'] != pytest.approx(results['Mean'], abs=1e-3)


@pytest.mark.parametrize('case, message', [
    ('short', '2957 people'),
    ('three_coords', r'preds has shape (2958, 16, 3)'),
    ('nan', 'prediction of person 7, joint 3 is not finite'),
    ('no_key', "no 'preds' array"),
    ('txt', "unknown prediction file type '.txt'"),
    ('missing', 'no such file'),
])
def test_bad_files_give_one_error_line(eval_mpii, capsys, tmp_path,
                                       gt_mat_file, val_gt, case, message):
    preds = val_gt.keypoints.copy()
    if case == 'short':
        path = write_preds(tmp_path / 'p.mat', preds[:-1])
    elif case == 'three_coords':
        path = write_preds(tmp_path / 'p.npy', np.zeros((2958, 16, 3)))
    elif case == 'nan':
        preds[7, 3, 1] = np.nan
        path = write_preds(tmp_path / 'p.h5', preds)
    elif case == 'no_key':
        savemat(tmp_path / 'p.mat', {'predictions': preds})
        path = tmp_path / 'p.mat'
    elif case == 'txt':
        path = tmp_path / 'p.txt'
        path.write_text('1 2 3')
    else:
        path = tmp_path / 'absent.mat'
    status, lines, err = run_tool(eval_mpii, capsys, path, '--gt', gt_mat_file)
    assert status == 1 and lines == []
    assert len(err.splitlines()) == 1 and message in err, err


def test_command_line_error_exit_code_without_traceback(
        repo_root, tmp_path, gt_mat_file):
    bad = write_preds(tmp_path / 'p.json', np.zeros((3, 16, 2)))
    proc = subprocess.run([
        sys.executable,
        str(repo_root / 'tools' / 'eval_mpii.py'), bad, '--gt', gt_mat_file
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().endswith(
        f'{bad} has 3 people but {gt_mat_file} has 2958')
