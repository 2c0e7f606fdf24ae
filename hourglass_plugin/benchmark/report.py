"""Derived figures and the outputs of a benchmark run: Markdown table,
speed-up sentences, a plot, and a results folder."""
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
    """Add the GEMM reference, GFLOP/s and speed-ups to each record (in
    place).

    Per record: ``gemm_peak_gflops`` (the run's measured fp32 ``torch.mm``
    rate, None when not measured), ``gflops_b1`` (2 x MACs / batch-1
    latency), ``gemm_fraction_b1`` (its share of the GEMM rate),
    ``gflops_b32`` (2 x MACs x batch-32 images/s), and
    ``speedup_vs_mmpose_eager_b1`` / ``_b32`` against :func:`baseline`.

    Returns:
        dict | None: The baseline record, if any.
    """
    base = baseline(records)
    for rec in records:
        rec['gemm_peak_gflops'] = None if gemm is None else round(gemm, 1)
        lat, b32 = rec.get('latency_ms_b1'), rec.get('throughput_b32')
        if lat:
            rec['gflops_b1'] = 2 * rec['macs'] / (lat / 1e3) / 1e9
            if gemm:
                rec['gemm_fraction_b1'] = rec['gflops_b1'] / gemm
            if base:
                rec['speedup_vs_mmpose_eager_b1'] = base['latency_ms_b1'] / lat
        if b32:
            rec['gflops_b32'] = 2 * rec['macs'] * b32 / 1e9
            if base and base.get('throughput_b32'):
                rec['speedup_vs_mmpose_eager_b32'] = b32 / base[
                    'throughput_b32']
    return base


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return '-' if value is None else format(value / scale, spec)


def note(record: dict) -> str:
    """The note cell: ``skipped: ...`` / ``FAILED: ...`` / memory note."""
    if record.get('failed'):
        return f'FAILED: {record["failed"]}'
    if record.get('skipped'):
        return f'skipped: {record["skipped"]}'
    return record.get('peak_mem_note', '')


def markdown(records: List[dict], meta: dict) -> str:
    """The results as a Markdown table with the run's conditions above it.

    Args:
        records (list[dict]): Records after :func:`add_derived`.
        meta (dict): From ``run_benchmark`` (machine, GEMM, load).

    Returns:
        str: The text (ends with a newline).
    """
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
    """"ours X/onnx is 1.22x faster than mmpose Y eager" sentences, one per
    measured record other than the baseline."""
    if base is None:
        return ['(no mmpose eager model in this run: no latency ratios)']
    out = []
    for r in records:
        s = r.get('speedup_vs_mmpose_eager_b1')
        if r is base or not s:
            continue
        out.append(f'{r["source"]} {r["name"]}/{r["variant"]} is '
                   f'{max(s, 1 / s):.2f}x {"faster" if s >= 1 else "slower"} '
                   f'than mmpose {base["name"]} eager at batch 1 '
                   f'({r["latency_ms_b1"]:.1f} vs '
                   f'{base["latency_ms_b1"]:.1f} ms)')
    return out


def plot(records: List[dict], out_file: str) -> None:
    """PCKh (or GMACs when no PCKh was measured) against throughput, one
    marker per measured model and variant (circles: ours, squares:
    mmpose), written as a PNG."""
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
        xlabel='throughput (images/s, batch 32 if measured else 1; log)',
        ylabel='PCKh@0.5 Mean' if use_pckh else 'GMACs per image')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=120)
    plt.close(fig)


def write_results(out_dir: str, mode: str, records: List[dict], meta: dict,
                  text: str, command: Sequence[str]) -> List[str]:
    """A results folder: ``<mode>.json`` (``date``, ``command``, ``meta``,
    ``records``) and ``<mode>.md`` (the same, rendered: date, machine,
    exact command, table).

    Returns:
        list[str]: The two files written.
    """
    os.makedirs(out_dir, exist_ok=True)
    date = datetime.datetime.now(
        datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    cmd = ' '.join(command)
    files = [osp.join(out_dir, f'{mode}.{ext}') for ext in ('json', 'md')]
    with open(files[0], 'w') as f:
        json.dump(
            dict(date=date, command=cmd, meta=meta, records=records),
            f,
            indent=1)
    machine = ', '.join(f'{k} {meta[k]}'
                        for k in ('cpu', 'cpu_capability', 'cores', 'gpu',
                                  'torch', 'onnxruntime') if meta.get(k))
    with open(files[1], 'w') as f:
        f.write(f'# Benchmark: {mode}\n\nDate: {date}. Machine: {machine}.\n\n'
                f'Command:\n\n```bash\n{cmd}\n```\n\n{text}')
    return files
