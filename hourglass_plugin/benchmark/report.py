"""Derived figures and the outputs of a benchmark run: Markdown table,
speed-up sentences and a plot."""
import os
import os.path as osp
from typing import List, Optional

from .machine import ARITHMETIC

#: fields every record of ``--out-json`` has (None where not measured)
REQUIRED_KEYS = ('name', 'config', 'variant', 'params', 'macs',
                 'latency_ms_b1', 'throughput_b32', 'peak_mem_mb',
                 'gemm_peak_gflops')


def add_derived(records: List[dict],
                gemm: Optional[float],
                peaks: Optional[dict] = None) -> Optional[dict]:
    """Add GFLOP/s, the shares of both ceilings and speed-ups (in place).

    Per record: ``gemm_peak_gflops`` (measured fp32 ``torch.mm``),
    ``gflops_b1`` (2 x MACs / batch-1 latency), ``gemm_fraction_b1``;
    with ``peaks``: ``theoretical_peak_gflops`` (fp32), ``arithmetic``
    (fp32 / bf16 / int8 / fp16), ``variant_peak_gflops`` (the peak of that
    arithmetic; for a mixed-precision int8 model, with ``int8_mac_share``
    s, ``'int8+fp32'`` and the peak that runs its MACs in the least time,
    ``1 / (s / int8 + (1 - s) / fp32)``) and ``peak_fraction_b1`` (share of
    it); and the speed-ups
    ``speedup_vs_mmpose_eager_b1`` / ``_b32`` against the baseline.

    Args:
        records (list[dict]): Benchmark records (``macs``, ``source``,
            ``variant``, ``latency_ms_b1``, ``throughput_b32``).
        gemm (float, optional): Measured GEMM GFLOP/s (None: not measured,
            e.g. no CUDA device).
        peaks (dict, optional): ``machine.theoretical_peaks`` output.

    Returns:
        dict | None: The baseline record (first mmpose ``eager`` that was
        measured), if any.
    """
    for rec in records:
        rec['gemm_peak_gflops'] = _round(gemm)
        arithmetic = ARITHMETIC.get(rec['variant'], 'fp32')
        if peaks is not None:
            rec['theoretical_peak_gflops'] = _round(peaks.get('fp32'))
            rec['arithmetic'] = arithmetic
            rec['variant_peak_gflops'] = _round(peaks.get(arithmetic))
            share = rec.get('int8_mac_share')
            if share is not None and peaks.get('fp32') and peaks.get('int8'):
                rec['arithmetic'] = 'int8+fp32'
                rec['variant_peak_gflops'] = _round(
                    1 / (share / peaks['int8'] + (1 - share) / peaks['fp32']))
        lat = rec.get('latency_ms_b1')
        if lat:
            rec['gflops_b1'] = 2 * rec['macs'] / (lat / 1e3) / 1e9
            if gemm:
                rec['gemm_fraction_b1'] = rec['gflops_b1'] / gemm
            if rec.get('variant_peak_gflops'):
                rec['peak_fraction_b1'] = (
                    rec['gflops_b1'] / rec['variant_peak_gflops'])
        if rec.get('throughput_b32'):
            rec['gflops_b32'] = 2 * rec['macs'] * rec['throughput_b32'] / 1e9
            if rec.get('variant_peak_gflops'):
                rec['peak_fraction_b32'] = (
                    rec['gflops_b32'] / rec['variant_peak_gflops'])
    base = baseline(records)
    for rec in records:
        if base and rec.get('latency_ms_b1'):
            rec['speedup_vs_mmpose_eager_b1'] = (
                base['latency_ms_b1'] / rec['latency_ms_b1'])
        if base and base.get('throughput_b32') and rec.get('throughput_b32'):
            rec['speedup_vs_mmpose_eager_b32'] = (
                rec['throughput_b32'] / base['throughput_b32'])
    return base


def baseline(records: List[dict]) -> Optional[dict]:
    """The record speed-ups refer to: the first measured mmpose ``eager``."""
    return next((r for r in records if r['source'] == 'mmpose'
                 and r['variant'] == 'eager' and r.get('latency_ms_b1')), None)


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


def _scaled(value: Optional[float], unit: float) -> Optional[float]:
    return None if value is None else value / unit


def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def markdown(records: List[dict], meta: dict) -> str:
    """The results as a Markdown table with the run's conditions above it.

    Args:
        records (list[dict]): Records after :func:`add_derived`.
        meta (dict): ``cpu``, ``device``, ``threads``, ``torch``,
            ``onnxruntime``, ``gemm_size``, ``gemm_peak_gflops``,
            ``theoretical_peak_gflops``, ``peak_basis``,
            ``other_processes_cores``, ``load_before``, ``load_after``.

    Returns:
        str: The text (ends with a newline).
    """
    peak, gemm = meta.get('theoretical_peak_gflops'), meta['gemm_peak_gflops']
    lines = [
        f'Machine: {meta["cpu"]}, device `{meta["device"]}`, '
        f'{meta["threads"]} threads (torch {meta["torch"]}, onnxruntime '
        f'{meta["onnxruntime"]}); fp32 GEMM peak ({meta["gemm_size"]}^3 '
        f'`torch.mm`, median): **'
        f'{"not measured" if gemm is None else f"{gemm:.1f} GFLOP/s"}**; '
        'theoretical fp32 peak: **'
        f'{"unknown" if peak is None else f"{peak:.1f} GFLOP/s"}** '
        f'({meta.get("peak_basis", "-")}); other processes used '
        f'{meta["other_processes_cores"]:.2f} CPU cores on average during '
        f'the run (1-min load average {meta["load_before"]:.2f} before, '
        f'{meta["load_after"]:.2f} after, ours included).', '',
        '| model | source | variant | params (M) | GMACs | latency b1 (ms) '
        '| b32 (img/s) | GFLOP/s b1 (% GEMM) | % of peak b1 / b32 (arith.) '
        '| peak mem (MB) | joints <= 1 px vs fp32 (floor) | PCKh | PCKh@0.1 '
        '| speed-up b1 | note |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:'
        '|---|'
    ]
    for r in records:
        gflops = '-' if r.get('gflops_b1') is None else (
            f'{r["gflops_b1"]:.0f} ({_fmt(r.get("gemm_fraction_b1"), ".0%")})')
        share = '-' if r.get('peak_fraction_b1') is None else (
            f'{r["peak_fraction_b1"]:.0%}' +
            (f' / {r["peak_fraction_b32"]:.0%}'
             if r.get('peak_fraction_b32') else '') + f' ({r["arithmetic"]})')
        speed = r.get('speedup_vs_mmpose_eager_b1')
        note = f'skipped: {r["skipped"]}' if r.get('skipped') else ''
        if r.get('int8_keep_fp32'):
            note = (f'{r["int8_keep_fp32"]} most sensitive convs in fp32 ('
                    f'{_fmt(r.get("int8_mac_share"), ".0%")} of the MACs in '
                    f'int8); {note}').rstrip('; ')
        if r.get('source_params'):
            note = (f'source network {r["source_params"] / 1e6:.2f} M '
                    f'params; {note}').rstrip('; ')
        lines.append(f'| {r["name"]} | {r["source"]} | {r["variant"]} | '
                     f'{_fmt(_scaled(r.get("params"), 1e6), ".2f")} | '
                     f'{_fmt(_scaled(r.get("macs"), 1e9), ".2f")} | '
                     f'{_fmt(r.get("latency_ms_b1"), ".1f")} | '
                     f'{_fmt(r.get("throughput_b32"), ".2f")} | {gflops} | '
                     f'{share} | {_fmt(r.get("peak_mem_mb"), ".0f")} | '
                     f'{_agreement_cell(r)} | '
                     f'{_fmt(r.get("PCKh"), ".2f")} | '
                     f'{_fmt(r.get("PCKh@0.1"), ".2f")} | '
                     f'{"-" if speed is None else f"{speed:.2f}x"} | '
                     f'{note} |')
    if any(r.get('kpt_agreement_floor') is not None for r in records):
        lines += [
            '', '(floor): the share of joints the fp32 network itself keeps '
            'within 1 heatmap px when every input pixel gets +-1 grey level '
            'of noise (the rounding of an 8-bit image); no backend can be '
            'expected to agree more closely than that.'
        ]
    over = [
        r.get(k) for r in records
        for k in ('peak_fraction_b1', 'peak_fraction_b32') if r.get(k)
    ]
    if over and max(over) > 1 and meta.get('clock_ghz'):
        lines += [
            '', f'WARNING: a variant ran at {max(over):.0%} of the peak at '
            f'the clock the CPU reports ({meta["clock_ghz"]:.2f} GHz): it '
            'runs faster than it reports (boost); implied clock >= '
            f'{meta["clock_ghz"] * max(over):.2f} GHz.'
        ]
    return '\n'.join(lines) + '\n'


def _agreement_cell(record: dict) -> str:
    """``87.9% (99.6%)``: agreement with fp32, and the fp32 floor."""
    floor = record.get('kpt_agreement_floor')
    return _fmt(record.get('kpt_agreement'),
                '.1%') + ('' if floor is None else f' ({floor:.1%})')


def ratio_lines(records: List[dict], base: Optional[dict]) -> List[str]:
    """"ours X/onnx is 1.22x faster than mmpose Y eager" sentences, one per
    measured record other than the baseline."""
    if base is None:
        return ['(no mmpose eager model in this run: no latency ratios)']
    out = []
    for r in records:
        if r is base or not r.get('speedup_vs_mmpose_eager_b1'):
            continue
        s = r['speedup_vs_mmpose_eager_b1']
        word = 'faster' if s >= 1 else 'slower'
        factor = s if s >= 1 else 1 / s
        out.append(f'{r["source"]} {r["name"]}/{r["variant"]} is '
                   f'{factor:.2f}x {word} than mmpose {base["name"]} eager '
                   f'at batch 1 ({r["latency_ms_b1"]:.1f} vs '
                   f'{base["latency_ms_b1"]:.1f} ms)')
    return out


def plot(records: List[dict], out_file: str) -> None:
    """PCKh (or GMACs when no PCKh was measured) against throughput, one
    marker per measured model and variant (circles: ours, squares:
    mmpose), written as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    use_pckh = any(r.get('PCKh') is not None for r in records)
    fig, ax = plt.subplots(figsize=(9, 5))
    for r in records:
        if not r.get('latency_ms_b1'):
            continue
        x = r.get('throughput_b32') or 1e3 / r['latency_ms_b1']
        y = r.get('PCKh') if use_pckh else r['macs'] / 1e9
        if y is not None:
            ax.scatter(
                x,
                y,
                s=60,
                marker='o' if r['source'] == 'ours' else 's',
                label=f'{r["name"]} / {r["variant"]}')
    ax.set_xscale('log')
    for axis in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
        axis(matplotlib.ticker.FormatStrFormatter('%g'))
    ax.set_xlabel('throughput (images/s, batch 32 if measured else 1; log)')
    ax.set_ylabel('PCKh@0.5 Mean' if use_pckh else 'GMACs per image')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
