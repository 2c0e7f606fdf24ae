"""Derived figures and outputs of a benchmark run: Markdown, speed-up
sentences, plot, results folder."""
import datetime
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

#: fields every record of ``--out-json`` has (None where not measured)
REQUIRED_KEYS = ('name', 'config', 'variant', 'params', 'macs',
                 'latency_ms_b1', 'throughput_b32', 'peak_mem_mb',
                 'gemm_peak_gflops')


def baseline(records: List[dict]) -> Optional[dict]:
    """The record speed-ups refer to: the first measured mmpose ``eager``."""
    return next((r for r in records if r['source'] == 'mmpose'
                 and r['variant'] == 'eager' and r.get('latency_ms_b1')), None)


def add_derived(records: List[dict], gemm: Optional[float]) -> Optional[dict]:
    """Add (in place) ``gemm_peak_gflops`` (measured ``torch.mm`` rate),
    ``gflops_b1`` / ``_b32`` (2 x MACs x images/s), ``gemm_fraction_b1``,
    ``speedup_vs_mmpose_eager_b1`` / ``_b32``; return :func:`baseline`."""
    base = baseline(records)
    for rec in records:
        rec['gemm_peak_gflops'] = None if gemm is None else round(gemm, 1)
        lat, b32 = rec.get('latency_ms_b1'), rec.get('throughput_b32')
        if lat:
            rec['gflops_b1'] = 2 * rec['macs'] / lat / 1e6
            if gemm:
                rec['gemm_fraction_b1'] = rec['gflops_b1'] / gemm
            if base:
                rec['speedup_vs_mmpose_eager_b1'] = base['latency_ms_b1'] / lat
        if b32:
            rec['gflops_b32'] = 2 * rec['macs'] * b32 / 1e9
            if base and base.get('throughput_b32'):
                rec['speedup_vs_mmpose_eager_b32'] = \
                    b32 / base['throughput_b32']
    return base


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return '-' if value is None else format(value / scale, spec)


def note(record: dict) -> str:
    """The note cell: ``FAILED: ...``, ``skipped: ...`` or a memory note."""
    for key, word in (('failed', 'FAILED'), ('skipped', 'skipped')):
        if record.get(key):
            return f'{word}: {record[key]}'
    return record.get('peak_mem_note', '')


def markdown(records: List[dict], meta: dict) -> str:
    """The records (after :func:`add_derived`) as a Markdown table, with the
    run's conditions (``meta`` of ``run_benchmark``) above it."""
    gemm, gpu = meta['gemm_peak_gflops'], meta.get('gpu')
    lines = [
        f'Machine: {meta["cpu"]} ({meta["cpu_capability"]}, '
        f'{meta["cores"]} cores){f", {gpu}" if gpu else ""}; device '
        f'`{meta["device"]}`, {meta["threads"]} threads; torch '
        f'{meta["torch"]}, onnxruntime {meta["onnxruntime"]}. fp32 GEMM '
        f'({meta["gemm_size"]}^3 `torch.mm`): **'
        f'{"not measured" if gemm is None else f"{gemm:.1f} GFLOP/s"}**. '
        f'Other processes used {meta["other_processes_cores"]:.2f} CPU cores '
        f'on average (1-min load {meta["load_before"]:.2f} before, '
        f'{meta["load_after"]:.2f} after, ours included).', '',
        '| model | source | variant | params (M) | GMACs | latency b1 (ms) '
        '| b32 (img/s) | GFLOP/s b1 (% GEMM) | peak mem (MB) '
        '| joints <= 1 px vs fp32 | PCKh | PCKh@0.1 | speed-up b1 | note |',
        '|---|---|---|' + '---:|' * 10 + '---|'
    ]
    for r in records:
        gflops = '-' if r.get('gflops_b1') is None else (
            f'{r["gflops_b1"]:.0f} ({_fmt(r.get("gemm_fraction_b1"), ".0%")})')
        speed = r.get('speedup_vs_mmpose_eager_b1')
        lines.append(
            f'| {r["name"]} | {r["source"]} | {r["variant"]} | '
            f'{_fmt(r.get("params"), ".2f", 1e6)} | '
            f'{_fmt(r.get("macs"), ".2f", 1e9)} | '
            f'{_fmt(r.get("latency_ms_b1"), ".1f")} | '
            f'{_fmt(r.get("throughput_b32"), ".2f")} | {gflops} | '
            f'{_fmt(r.get("peak_mem_mb"), ".0f")} | '
            f'{_fmt(r.get("kpt_agreement"), ".1%")} | '
            f'{_fmt(r.get("PCKh"), ".2f")} | {_fmt(r.get("PCKh@0.1"), ".2f")} '
            f'| {_fmt(speed, ".2f")}{"x" if speed else ""} | {note(r)} |')
    return '\n'.join(lines) + '\n'


def ratio_lines(records: List[dict], base: Optional[dict]) -> List[str]:
    """"ours X/onnx is 1.22x faster than mmpose Y eager ..." sentences, one
    per measured record other than the baseline."""
    if base is None:
        return ['(no mmpose eager model in this run: no latency ratios)']
    return [
        f'{r["source"]} {r["name"]}/{r["variant"]} is {max(s, 1 / s):.2f}x '
        f'{"faster" if s >= 1 else "slower"} than mmpose {base["name"]} '
        f'eager at batch 1 ({r["latency_ms_b1"]:.1f} vs '
        f'{base["latency_ms_b1"]:.1f} ms)' for r in records
        if r is not base and (s := r.get('speedup_vs_mmpose_eager_b1'))
    ]


def write_results(out_dir: str, mode: str, records: List[dict], meta: dict,
                  text: str, command: Sequence[str]) -> None:
    """Write ``<out_dir>/<mode>.json`` (``date``, ``command``, ``meta``,
    ``records``) and ``<mode>.md`` (date, machine, the exact command, then
    ``text``: the rendered table)."""
    os.makedirs(out_dir, exist_ok=True)
    date = f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC'
    cmd = ' '.join(command)
    with open(osp.join(out_dir, f'{mode}.json'), 'w') as f:
        json.dump(
            dict(date=date, command=cmd, meta=meta, records=records),
            f,
            indent=1)
    machine = ', '.join(f'{k} {meta[k]}'
                        for k in ('cpu', 'cpu_capability', 'cores', 'gpu',
                                  'torch', 'onnxruntime') if meta.get(k))
    with open(osp.join(out_dir, f'{mode}.md'), 'w') as f:
        f.write(f'# Benchmark: {mode}\n\nDate: {date}. Machine: {machine}.\n'
                f'\nCommand:\n\n```bash\n{cmd}\n```\n\n{text}')


def plot(records: List[dict], out_file: str) -> None:
    """PCKh (GMACs without PCKh) against images/s (batch 32 if measured,
    else 1; log scale) per measured record, circles ours and squares
    mmpose's, written as a PNG by matplotlib."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    use_pckh = any(r.get('PCKh') is not None for r in records)
    fig, ax = plt.subplots(figsize=(9, 5))
    for r in (r for r in records if r.get('latency_ms_b1')):
        y = r.get('PCKh') if use_pckh else r['macs'] / 1e9
        if y is not None:
            ax.scatter(
                r.get('throughput_b32') or 1e3 / r['latency_ms_b1'],
                y,
                marker='o' if r['source'] == 'ours' else 's',
                label=f'{r["name"]} / {r["variant"]}')
    ax.set(
        xscale='log',
        xlabel='images/s (batch 32 if measured, else 1)',
        ylabel='PCKh@0.5 Mean' if use_pckh else 'GMACs per image')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=120, bbox_inches='tight')
    plt.close(fig)
