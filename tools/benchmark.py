"""Put pose models side by side: accuracy against cost, one machine, one run.

    python tools/benchmark.py MODEL [MODEL ...]
        [--checkpoints CKPT|none ...] [--variants eager onnx int8 bf16]
        [--mmpose-variants eager] [--device cpu|cuda] [--threads N]
        [--batch-sizes 1 32] [--repeats 10] [--repeats-large 3] [--warmup 2]
        [--gemm-size 4096]
        [--data-root DIR] [--eval-batch-size 8] [--no-agreement]
        [--work-dir work_dirs/benchmark]
        [--out-json F.json] [--out-md F.md] [--out-png F.png]

MODEL is a config path (ours: configs that load ``hourglass_plugin`` through
``custom_imports``; any other config counts as mmpose's) or an mmpose
model-zoo config NAME (``td-hm_hourglass52_8xb64-210e_mpii-256x256``), found
in the installed mmpose (``mmpose/.mim/configs/**/NAME.py``). A checkpoint is
given either as ``MODEL::CKPT`` or by ``--checkpoints`` (one per MODEL, in
order; ``none`` = random weights). Without a checkpoint a model is timed but
its accuracy is not measured.

Variants (``hourglass_plugin.deploy`` backends): ``--variants`` apply to our
models, ``--mmpose-variants`` to mmpose's (default only ``eager``): eager,
channels_last, compile, onnx (ONNX Runtime fp32), int8 (ONNX Runtime, static
QDQ calibrated on real crops), int8-dynamic, bf16, fp16 (CUDA).

Measured per model and variant, each in a FRESH subprocess (so memory figures
do not mix; exporting, quantising and the reference heatmaps are done before,
in the main process):

* ``params``, ``macs``: mmengine's ``get_model_complexity_info`` (one
  multiply-add = 1 MAC; mmpose calls this figure "FLOPs") at batch 1.
* ``latency_ms_b1``: median wall time of one forward pass of the network
  (normalised crop -> last-stack heatmaps; no flip test, no decoding) at
  batch 1, after warm-up; ``throughput_b32``: 32 / median time of a batch of
  32 (fewer repeats: ``--repeats-large``). PyTorch threads and ONNX Runtime
  intra-op threads are both ``--threads``; CUDA timings synchronise.
* ``gflops_b1`` = 2 * MACs / latency, and ``gemm_fraction_b1`` = that over
  ``gemm_peak_gflops``, the machine's median fp32 ``torch.mm`` throughput on
  4096 x 4096 matrices (``--gemm-size``) with the same threads (measured
  once per run, before the models).
* ``peak_mem_mb``: CPU: the process's peak resident memory (Linux VmHWM,
  reset after the model is loaded) during the timed runs, minus its resident
  memory after imports and before loading the model: weights + activations +
  workspace of serving the largest batch. CUDA: ``max_memory_allocated``.
* ``kpt_agreement`` (reduced-precision and ONNX variants): share of joints
  whose decoded keypoints lie within 1 heatmap pixel of the eager fp32 ones,
  on real crops (``data/`` MPII people and ``../shared/data/coco_multi``
  ground-truth boxes, each also mirrored); ``max_abs_diff``: largest heatmap
  difference. int8 is calibrated on the COCO detector boxes instead.
* ``other_processes_cores``: CPU time of the whole machine (/proc/stat)
  minus ours, over the run's wall time; above 0.25 the tool warns that the
  timings are not reliable.
* ``PCKh`` / ``PCKh@0.1`` (``--data-root`` and a checkpoint): the config's
  test dataloader (data_root replaced; a ``headbox_file`` under the old
  data_root moves along) and test evaluator (``PCK`` and ``PCK@0.1``), with
  the config's flip test, through the variant's backend.

Output: a Markdown table (stdout and ``--out-md``), a JSON list with one
record per model and variant (``--out-json``), a plot of PCKh (or MACs when
no accuracy was measured) against throughput (``--out-png``), and the
latency ratio of every record to the first mmpose eager model.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from hourglass_plugin.deploy import BACKENDS, ONNX_BACKENDS  # noqa: E402
from hourglass_plugin.deploy.model_zoo import (  # noqa: E402
    is_plugin_config, mmpose_metainfo, resolve_config)

REQUIRED_KEYS = ('name', 'config', 'variant', 'params', 'macs',
                 'latency_ms_b1', 'throughput_b32', 'peak_mem_mb',
                 'gemm_peak_gflops')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Benchmark pose models: params, MACs, latency, '
        'throughput, memory, keypoint agreement, PCKh')
    parser.add_argument(
        'models',
        nargs='*',
        metavar='MODEL',
        help='config path or mmpose config NAME, '
        'optionally MODEL::CHECKPOINT')
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        help='one checkpoint per model (or "none")')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['eager', 'onnx', 'int8', 'bf16'],
        choices=BACKENDS,
        metavar='VARIANT',
        help=f'for our models; any of {", ".join(BACKENDS)}')
    parser.add_argument(
        '--mmpose-variants',
        nargs='+',
        default=['eager'],
        choices=BACKENDS,
        metavar='VARIANT',
        help="for mmpose's models")
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument(
        '--threads',
        type=int,
        default=os.cpu_count(),
        help='PyTorch / ONNX Runtime threads')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    parser.add_argument(
        '--repeats',
        type=int,
        default=10,
        help='timed runs at batch sizes < 8')
    parser.add_argument(
        '--repeats-large',
        type=int,
        default=3,
        help='timed runs at batch sizes >= 8')
    parser.add_argument(
        '--warmup',
        type=int,
        default=2,
        help='untimed runs first (1 at batch sizes >= 8)')
    parser.add_argument(
        '--gemm-size',
        type=int,
        default=4096,
        help='matrix side of the fp32 GEMM peak measurement')
    parser.add_argument('--data-root', help='dataset root for PCKh')
    parser.add_argument('--eval-batch-size', type=int, default=8)
    parser.add_argument(
        '--no-agreement',
        action='store_true',
        help='skip the keypoint agreement check')
    parser.add_argument(
        '--work-dir',
        default=osp.join(REPO_ROOT, 'work_dirs', 'benchmark'),
        help='exported ONNX files and worker files')
    parser.add_argument('--out-json')
    parser.add_argument('--out-md')
    parser.add_argument('--out-png')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.models and not args.worker:
        parser.error('give at least one MODEL')
    if any(b < 1 for b in args.batch_sizes):
        parser.error('--batch-sizes must be >= 1')
    return args


def model_specs(args: argparse.Namespace) -> List[dict]:
    """One spec per MODEL: resolved config, checkpoint, owner, variants.

    Raises:
        ValueError: ``--checkpoints`` count differs from the models, or a
            model has a checkpoint both ways.
        FileNotFoundError: Unknown config or missing checkpoint.
    """
    if args.checkpoints and len(args.checkpoints) != len(args.models):
        raise ValueError(f'--checkpoints has {len(args.checkpoints)} entries '
                         f'for {len(args.models)} models')
    checkpoints = args.checkpoints or [None] * len(args.models)
    specs, names = [], set()
    for model, listed in zip(args.models, checkpoints):
        config, _, checkpoint = model.partition('::')
        if checkpoint and args.checkpoints:
            raise ValueError(f'{model}: checkpoint given both as ::CKPT and '
                             'in --checkpoints')
        checkpoint = checkpoint or listed
        if checkpoint and checkpoint.lower() == 'none':
            checkpoint = None
        if checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'{model}: checkpoint not found: '
                                    f'{checkpoint}')
        config = resolve_config(config)
        ours = is_plugin_config(config)
        name = osp.splitext(osp.basename(config))[0]
        while name in names:
            name += "'"
        names.add(name)
        specs.append(
            dict(
                name=name,
                config=config,
                checkpoint=osp.abspath(checkpoint) if checkpoint else None,
                source='ours' if ours else 'mmpose',
                variants=list(
                    args.variants if ours else args.mmpose_variants)))
    return specs


# --------------------------------------------------------------- measuring
def synchronize(device: str) -> None:
    """Wait for queued CUDA work (no-op on the CPU)."""
    if device.startswith('cuda'):
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int,
                   device: str) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak_gflops(device: str, size: int = 4096, repeats: int = 5) -> float:
    """The machine's fp32 matmul throughput: median ``torch.mm`` of two
    ``size x size`` matrices, in GFLOP/s (2 size^3 FLOPs per product)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    out = torch.empty(size, size, device=device)  # no allocation timed
    with torch.no_grad():
        seconds = median_seconds(lambda: torch.mm(a, b, out=out), 2, repeats,
                                 device)
    return 2 * size**3 / seconds / 1e9


def rss_mb() -> float:
    """Current resident memory of this process in MiB (Linux /proc)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory (VmHWM) in MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def cpu_seconds() -> tuple:
    """(busy CPU seconds of the whole machine from /proc/stat, CPU seconds
    of this process and its waited-for children)."""
    with open('/proc/stat') as f:
        fields = [int(v) for v in f.readline().split()[1:8]]
    user, nice, system, _, _, irq, softirq = fields
    busy = (user + nice + system + irq + softirq) / os.sysconf('SC_CLK_TCK')
    own = os.times()
    return busy, own.user + own.system + own.children_user + \
        own.children_system


def evaluate_pckh(estimator, config_file: str, data_root: str,
                  batch_size: int) -> Dict[str, float]:
    """PCKh of ``estimator`` with the config's test loader and evaluator.

    Args:
        estimator: Anything with ``test_step`` (the model, or a
            ``BackendPoseEstimator``).
        config_file (str): The model's config.
        data_root (str): Replaces ``test_dataloader.dataset.data_root``; a
            ``headbox_file`` that starts with the old data_root moves along.
        batch_size (int): Test batch size.

    Returns:
        dict: ``PCKh`` and ``PCKh@0.1`` (the evaluator's ``PCK`` and
        ``PCK@0.1``, in percent).

    Raises:
        KeyError: If the evaluator reports no ``PCK`` / ``PCK@0.1``.
    """
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    cfg = Config.fromfile(config_file)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    loader_cfg = cfg.test_dataloader
    dataset = loader_cfg.dataset
    old_root = dataset.get('data_root') or ''
    headbox = dataset.get('headbox_file')
    if headbox and old_root and headbox.startswith(old_root):
        dataset.headbox_file = osp.join(data_root, headbox[len(old_root):])
    dataset.data_root = data_root
    if not dataset.get('metainfo'):
        dataset.metainfo = mmpose_metainfo(dataset.type)
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    with torch.no_grad():
        for batch in loader:
            evaluator.process(estimator.test_step(batch), batch)
    metrics = {
        k.split('/')[-1]: v
        for k, v in evaluator.evaluate(len(loader.dataset)).items()
    }
    return {
        'PCKh': float(metrics['PCK']),
        'PCKh@0.1': float(metrics['PCK@0.1'])
    }


# ----------------------------------------------------------------- workers
def prepare_model(job: dict) -> dict:
    """Per model, in the main process: params, MACs, agreement crops + eager
    reference heatmaps, and the ONNX files its variants need. Without a
    checkpoint the random initial weights are saved, so that every worker
    runs the same network."""
    from mmengine.analysis import get_model_complexity_info

    from hourglass_plugin.deploy import (LastStackHeatmaps, dataset_crops,
                                         default_crop_sources,
                                         model_input_size, onnx_paths,
                                         prepare_onnx, reference_heatmaps)
    from hourglass_plugin.deploy.model_zoo import load_pose_model
    torch.manual_seed(0)
    model = load_pose_model(job['config'], job['checkpoint'], job['device'])
    weights = job['checkpoint']
    if weights is None:  # every worker must run the same random weights
        weights = osp.join(job['work_dir'], f'{job["name"]}_random_init.pth')
        torch.save(model.state_dict(), weights)
    width, height = model_input_size(model)
    dummy = torch.zeros(1, 3, height, width, device=job['device'])
    info = get_model_complexity_info(
        LastStackHeatmaps(model),
        inputs=(dummy, ),
        show_table=False,
        show_arch=False)
    out = dict(
        params=int(info['params']),
        macs=int(info['flops']),
        input_size=[width, height],
        weights=weights,
        onnx={})
    for stale in onnx_paths(job['work_dir'], job['name']).values():
        if osp.isfile(stale):  # from another run, maybe other weights
            os.remove(stale)
    for variant in job['variants']:
        if variant in ONNX_BACKENDS:  # one fp32 export for all of them
            out['onnx'][variant] = prepare_onnx(
                model, variant, job['work_dir'], name=job['name'], reuse=True)
    if job['agreement'] and set(job['variants']) - {'eager'}:
        sources = default_crop_sources(REPO_ROOT)
        crops = {
            name: dataset_crops(model, sources[name], flip=True).cpu()
            for name in ('mpii', 'coco_gt') if name in sources
        }
        refs = {k: reference_heatmaps(model, v) for k, v in crops.items()}
        out['reference'] = osp.join(job['work_dir'], f'{job["name"]}_ref.pt')
        torch.save(dict(crops=crops, heatmaps=refs), out['reference'])
    return out


def worker_measure(job: dict) -> dict:
    """Per model and variant: latency, throughput, memory, agreement, PCKh."""
    from hourglass_plugin.deploy import (BackendPoseEstimator,
                                         OrtHeatmapRunner,
                                         build_heatmap_runner,
                                         keypoint_agreement)
    from hourglass_plugin.deploy.model_zoo import load_pose_model
    device, variant = job['device'], job['variant']
    width, height = job['input_size']
    base_mb = rss_mb()
    cuda = device.startswith('cuda')
    model = None
    if variant in ONNX_BACKENDS:
        runner = OrtHeatmapRunner(
            job['onnx_file'], threads=job['threads'], device=device)
    else:
        model = load_pose_model(job['config'], job['weights'], device)
        runner = build_heatmap_runner(model, variant, threads=job['threads'])
    gen = torch.Generator().manual_seed(0)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    has_hwm = reset_peak_rss()
    latency = {}
    for bs in job['batch_sizes']:
        inputs = torch.randn(bs, 3, height, width, generator=gen).to(device)
        large = bs >= 8
        seconds = median_seconds(
            lambda: runner(inputs), 1 if large else job['warmup'],
            job['repeats_large'] if large else job['repeats'], device)
        latency[str(bs)] = seconds * 1e3
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = (peak_rss_mb() if has_hwm else rss_mb()) - base_mb
    record = dict(
        latency_ms=latency,
        latency_ms_b1=latency.get('1'),
        throughput={
            bs: int(bs) * 1e3 / ms
            for bs, ms in latency.items()
        },
        peak_mem_mb=round(peak, 1))
    record['throughput_b32'] = record['throughput'].get('32')
    if model is None:
        model = load_pose_model(job['config'], job['weights'], device)
    if job.get('reference'):
        ref = torch.load(job['reference'])
        detail, shares, diffs = {}, [], []
        for name, crops in ref['crops'].items():
            test = torch.cat(
                [runner(c.to(device)).cpu() for c in crops.split(8)])
            agree = keypoint_agreement(model, ref['heatmaps'][name], test,
                                       (width, height))
            detail[name] = agree
            shares.append((agree['share'], agree['joints']))
            diffs.append(agree['max_abs_diff'])
        joints = sum(n for _, n in shares)
        record['kpt_agreement'] = sum(s * n for s, n in shares) / joints
        record['kpt_agreement_detail'] = detail
        record['max_abs_diff'] = max(diffs)
    if job.get('data_root') and job['checkpoint']:
        estimator = model if variant == 'eager' else BackendPoseEstimator(
            model, runner)
        record.update(
            evaluate_pckh(estimator, job['config'], job['data_root'],
                          job['eval_batch_size']))
    return record


def run_worker(job: dict, threads: int) -> dict:
    """Run ``job`` in a fresh Python process with pinned threads.

    Raises:
        RuntimeError: If the worker fails (its output is then printed to
            stderr).
    """
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        job_file, out_file = osp.join(tmp, 'job.json'), osp.join(tmp, 'out')
        with open(job_file, 'w') as f:
            json.dump(dict(job, out=out_file), f)
        proc = subprocess.run(
            [sys.executable,
             osp.abspath(__file__), '--worker', job_file],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True)
        if proc.returncode != 0 or not osp.isfile(out_file):
            print(proc.stdout, file=sys.stderr)
            raise RuntimeError(f'benchmark worker failed ({job["name"]} '
                               f'{job["variant"]}), exit code '
                               f'{proc.returncode}')
        with open(out_file) as f:
            return json.load(f)


def worker_main(job_file: str) -> None:
    """Entry point of a measuring process."""
    with open(job_file) as f:
        job = json.load(f)
    torch.set_num_threads(job['threads'])
    torch.set_num_interop_threads(1)
    import hourglass_plugin  # noqa: F401  (registries, checkpoint types)
    import mmpose.apis  # noqa: F401  (import cost out of the memory figure)
    if job['variant'] in ONNX_BACKENDS:
        import onnxruntime  # noqa: F401
    result = worker_measure(job)
    with open(job['out'], 'w') as f:
        json.dump(result, f)


# ----------------------------------------------------------------- reports
def add_derived(records: List[dict], gemm: float) -> Optional[dict]:
    """Add GFLOP/s, GEMM fraction and speed-ups to ``records`` (in place).

    Returns:
        dict | None: The baseline record (first mmpose ``eager``), if any.
    """
    for rec in records:
        rec['gemm_peak_gflops'] = round(gemm, 1)
        lat = rec.get('latency_ms_b1')
        if lat:
            rec['gflops_b1'] = 2 * rec['macs'] / (lat / 1e3) / 1e9
            rec['gemm_fraction_b1'] = rec['gflops_b1'] / gemm
    base = next((r for r in records
                 if r['source'] == 'mmpose' and r['variant'] == 'eager'), None)
    for rec in records:
        if base and base.get('latency_ms_b1') and rec.get('latency_ms_b1'):
            rec['speedup_vs_mmpose_eager_b1'] = (
                base['latency_ms_b1'] / rec['latency_ms_b1'])
        if base and base.get('throughput_b32') and rec.get('throughput_b32'):
            rec['speedup_vs_mmpose_eager_b32'] = (
                rec['throughput_b32'] / base['throughput_b32'])
    return base


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return '-' if value is None else format(value * scale, spec)


def markdown(records: List[dict], meta: dict) -> str:
    """The results as a Markdown table with the run's conditions above it."""
    lines = [
        f'Machine: {meta["cpu"]}, device `{meta["device"]}`, '
        f'{meta["threads"]} threads (torch {meta["torch"]}, onnxruntime '
        f'{meta["onnxruntime"]}); fp32 GEMM peak ({meta["gemm_size"]}^3 '
        f'`torch.mm`, median): **{meta["gemm_peak_gflops"]:.1f} GFLOP/s**; '
        'other processes used '
        f'{meta["other_processes_cores"]:.2f} CPU cores on average during '
        f'the run (1-min load average {meta["load_before"]:.2f} before, '
        f'{meta["load_after"]:.2f} after, ours included).', '',
        '| model | source | variant | params (M) | GMACs | latency b1 (ms) '
        '| b32 (img/s) | GFLOP/s b1 (% GEMM) | peak mem (MB) '
        '| joints <= 1 px vs fp32 | PCKh | PCKh@0.1 | speed-up b1 |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
    ]
    for r in records:
        gflops = '-' if r.get('gflops_b1') is None else (
            f'{r["gflops_b1"]:.0f} ({r["gemm_fraction_b1"]:.0%})')
        speed = r.get('speedup_vs_mmpose_eager_b1')
        lines.append(f'| {r["name"]} | {r["source"]} | {r["variant"]} | '
                     f'{r["params"] / 1e6:.2f} | {r["macs"] / 1e9:.2f} | '
                     f'{_fmt(r.get("latency_ms_b1"), ".1f")} | '
                     f'{_fmt(r.get("throughput_b32"), ".2f")} | {gflops} | '
                     f'{_fmt(r.get("peak_mem_mb"), ".0f")} | '
                     f'{_fmt(r.get("kpt_agreement"), ".1%")} | '
                     f'{_fmt(r.get("PCKh"), ".2f")} | '
                     f'{_fmt(r.get("PCKh@0.1"), ".2f")} | '
                     f'{"-" if speed is None else f"{speed:.2f}x"} |')
    return '\n'.join(lines) + '\n'


def ratio_lines(records: List[dict], base: Optional[dict]) -> List[str]:
    """"ours X/onnx is 1.22x faster than mmpose Y eager" sentences."""
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
    marker per model and variant (circles: ours, squares: mmpose)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    use_pckh = any(r.get('PCKh') is not None for r in records)
    fig, ax = plt.subplots(figsize=(9, 5))
    for r in records:
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


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo) and its core count."""
    try:
        with open('/proc/cpuinfo') as f:
            name = next(
                line.split(':', 1)[1].strip() for line in f
                if line.startswith('model name'))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    return f'{name} ({os.cpu_count()} cores)'


def main(argv=None) -> List[dict]:
    """Run the benchmark; return the records."""
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker)
        return []
    specs = model_specs(args)
    torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    load_before = os.getloadavg()[0]
    start_wall, (start_busy, start_own) = time.perf_counter(), cpu_seconds()
    print(
        f'[benchmark] fp32 GEMM peak on {args.device}, {args.threads} '
        'threads ...',
        file=sys.stderr)
    gemm = gemm_peak_gflops(args.device, args.gemm_size)
    common = dict(
        device=args.device,
        threads=args.threads,
        work_dir=osp.abspath(args.work_dir))
    records = []
    for spec in specs:
        print(
            f'[benchmark] {spec["source"]} {spec["name"]}: preparing '
            f'({", ".join(spec["variants"])})',
            file=sys.stderr)
        prep = prepare_model(
            dict(common, **spec, agreement=not args.no_agreement))
        for variant in spec['variants']:
            print(f'[benchmark] {spec["name"]} / {variant}', file=sys.stderr)
            job = dict(
                common,
                **spec,
                variant=variant,
                input_size=prep['input_size'],
                weights=prep['weights'],
                onnx_file=prep['onnx'].get(variant),
                reference=None
                if variant == 'eager' else prep.get('reference'),
                batch_sizes=args.batch_sizes,
                repeats=args.repeats,
                repeats_large=args.repeats_large,
                warmup=args.warmup,
                data_root=args.data_root,
                eval_batch_size=args.eval_batch_size)
            job.pop('variants')
            rec = dict(
                name=spec['name'],
                config=spec['config'],
                source=spec['source'],
                checkpoint=spec['checkpoint'],
                variant=variant,
                device=args.device,
                threads=args.threads,
                params=prep['params'],
                macs=prep['macs'],
                input_size=prep['input_size'])
            rec.update(run_worker(job, args.threads))
            records.append(rec)
    end_busy, end_own = cpu_seconds()
    others = max(0.0, (end_busy - start_busy) - (end_own - start_own)) / (
        time.perf_counter() - start_wall)
    for rec in records:
        rec['other_processes_cores'] = round(others, 3)
    base = add_derived(records, gemm)
    meta = dict(
        cpu=cpu_name(),
        device=args.device,
        threads=args.threads,
        torch=torch.__version__,
        onnxruntime=_ort_version(),
        gemm_peak_gflops=gemm,
        gemm_size=args.gemm_size,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        other_processes_cores=others)
    if others > 0.25:
        print(
            f'[benchmark] WARNING: other processes used {others:.2f} CPU '
            'cores on average during the run: timings are not reliable',
            file=sys.stderr)
    table = markdown(records, meta)
    ratios = ratio_lines(records, base)
    print(table)
    print('\n'.join(ratios))
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(table + '\n' + '\n'.join(f'- {r}' for r in ratios) + '\n')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(records, f, indent=1)
    if args.out_png:
        plot(records, args.out_png)
    return records


def _ort_version() -> str:
    try:
        import onnxruntime
        return onnxruntime.__version__
    except ImportError:
        return 'not installed'


if __name__ == '__main__':
    main()
